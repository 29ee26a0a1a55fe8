"""What a launch says of `max_concurrent_requests` (`client.limits.in_flight_note`): each process's cap and the
job-wide maximum, warned about when it is above the cap (not in `shared` mode, whose Redis slots hold it), and
`launch --print_request` saying it."""

from __future__ import annotations

import pytest

from beam_api_pipeline.cli import main
from beam_api_pipeline.client.limits import in_flight_note
from tests.support import write_yaml


@pytest.mark.parametrize(
    ("mode", "cap", "processes", "expected"),
    [
        (
            "share",
            4,
            40,
            (
                "max_concurrent_requests 4: each of 40 processes (max_workers) holds at most 1 request(s) in flight, "
                "so the whole job up to 40 at once, 10x max_concurrent_requests; set rate_limit_mode: shared (Redis "
                "holds the cap for the whole job) or lower max_workers",
                True,
            ),
        ),
        (
            "adaptive",
            10,
            4,
            (
                "max_concurrent_requests 10: each of 4 processes (max_workers) holds at most 3 request(s) in flight, "
                "so the whole job up to 12 at once, 1.2x max_concurrent_requests; set rate_limit_mode: shared (Redis "
                "holds the cap for the whole job) or lower max_workers",
                True,
            ),
        ),
        (
            "share",
            12,
            4,
            (
                "max_concurrent_requests 12: each of 4 processes (max_workers) holds at most 3 request(s) in flight, "
                "so the whole job up to 12 at once",
                False,
            ),
        ),
        (
            "shared",
            4,
            40,
            (
                "max_concurrent_requests 4: each of 40 processes (max_workers) holds at most 1 request(s) in flight, "
                "and rate_limit_store holds the whole job to 4",
                False,
            ),
        ),
    ],
    ids=["share-above", "adaptive-rounding", "share-exact", "shared"],
)
def test_the_note(mode, cap, processes, expected):
    assert in_flight_note(mode, cap, processes, "max_workers") == expected


def test_launch_warns_of_a_job_wide_maximum_above_the_cap(tmp_path, capsys):
    api = {"base_url": "https://api.example.com", "endpoints": {"items": {"path": "/items"}}}
    config = {
        "pipeline_id": "acme_items",
        "api_config": api | {"max_concurrent_requests": 4},
        "output": [{"type": "gcs", "config": {"bucket": "acme-lake", "prefix": "raw/"}}],
        "dead_letter": {"path": "gs://acme-lake/dead_letter"},
        "watermark_store": {"type": "bigquery", "table": "acme-data.control.watermarks"},
    }
    path = write_yaml(tmp_path / "p.yaml", config)
    launch = ["launch", "--config", str(path), "--project", "acme-data", "--region", "europe-west1"]
    launch += ["--template_path", "gs://acme-lake/t.json", "--max_workers", "40", "--print_request"]
    assert main(launch) == 0
    (line,) = capsys.readouterr().err.splitlines()
    assert line.endswith(
        "max_concurrent_requests 4: each of 40 processes (max_workers; a worker runs one per vCPU) holds at most 1 "
        "request(s) in flight, so the whole job up to 40 at once, 10x max_concurrent_requests; set rate_limit_mode: "
        "shared (Redis holds the cap for the whole job) or lower max_workers"
    )
