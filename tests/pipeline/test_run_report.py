"""The run report's figures per endpoint: 429 answers apart from the other retries, in the table, in
`--report_json`, in the run record and in the Beam counters."""

from __future__ import annotations

from tests.pipeline.conftest import run_report


def test_429s_are_counted_per_endpoint_apart_from_the_other_retries(sample_api, write_config, tmp_path, capsys):
    sample_api.set_faults(error_rate=0.1, rate_limit_every=7, retry_after="0", seed=3)
    path, _ = write_config()
    code, report = run_report(tmp_path, "--config", str(path), "--end_time", "2024-01-04T00:00:00Z")
    assert code == 0

    by_status = sample_api.stats()["by_status"]
    limited, failed = by_status["429"], by_status["500"]
    assert limited > 0 and failed > 0
    items = report["endpoints"]["items"]
    assert (items["rate_limited_429"], items["retries"], items["records"], items["written"]) == (
        limited,
        limited + failed,
        96,
        96,
    )
    assert report["run"]["endpoint_stats"]["items"]["rate_limited_429"] == limited  # the run record keeps them
    counters = report["counters"]
    assert (counters["rate_limited_429"], counters["rate_limited_429_items"], counters["retries"]) == (
        limited,
        limited,
        limited + failed,
    )
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("  items "))
    assert row.split()[9:12] == [str(limited + failed), str(limited), "0"]  # retries, 429s, errors
    assert f"requests ({limited} answered 429)" in out
