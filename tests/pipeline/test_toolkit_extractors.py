"""The shipped GitHub config, a whole run on DirectRunner against the sample API's GitHub-shaped routes (only
base_url and local paths changed, and GitHub's rate limit raised): issues and, from the run's child fetch, their
comments, each in its own folder. The weather config on ReadFromApi alone is in
tests/transforms/test_read_weather_template.py."""

from __future__ import annotations

from pathlib import Path

import yaml

from beam_api_pipeline.cli import main
from sample_api import Credentials
from sample_api.github import comment_ids, repository_id
from tests.support import read_jsonl, t

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "pipelines"


def local_copy(template: str, base_url: str, tmp_path: Path) -> Path:
    """The template with its base_url on the sample API and its files under tmp_path."""
    config = yaml.safe_load((TEMPLATES / template).read_text())
    config["api_config"]["base_url"] = base_url
    config["output"][0]["config"]["path"] = str(tmp_path / "out")
    config["dead_letter"]["path"] = str(tmp_path / "dead_letter")
    config["watermark_store"]["path"] = str(tmp_path / "state.db")
    path = tmp_path / template
    path.write_text(yaml.safe_dump(config))
    return path


def test_the_github_config_reads_issues_with_link_pages_and_since_and_their_comments(sample_api, tmp_path, monkeypatch):
    sample_api.credentials = Credentials(bearer_token="ghp_sample_token")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_sample_token")
    path = local_copy("github_issues.yaml", sample_api.url, tmp_path)
    config = yaml.safe_load(path.read_text())
    config["api_config"]["rate_limit"] = 50  # GitHub's budget is 1 a second; 99 requests at that would take 99 s
    path.write_text(yaml.safe_dump(config))
    args = ["run", "--config", str(path), "--start_time", "2024-01-12T00:00:00Z", "--end_time", "2024-01-14T00:00:00Z"]
    assert main(args) == 0

    rows = read_jsonl(tmp_path / "out" / "issues")
    numbers = sorted(row["number"] for row in rows)
    assert numbers == sample_api.dataset.ids_between(t("2024-01-12"), t("2024-01-14"))
    assert all(row["is_pull_request"] == (row["number"] % 4 == 0) for row in rows)
    assert rows[0]["user"] == {"login": "octocat"}
    metadata = {"_pipeline_id", "_endpoint", "_window_start", "_window_end", "_extracted_at", "_run_id"}
    assert set(rows[0]) == {
        "id", "number", "title", "state", "user", "comments", "created_at", "updated_at", "closed_at",
        "is_pull_request", "body", *metadata,
    }  # fmt: skip
    comments = read_jsonl(tmp_path / "out" / "comments")
    assert sorted(row["id"] for row in comments) == sorted(c for number in numbers for c in comment_ids(number))
    assert len(comments) == sum(row["comments"] for row in rows)
    assert all(row["_parent_number"] == (row["id"] - 50_000_000) // 10 for row in comments)
    assert set(comments[0]) == {"id", "user", "created_at", "updated_at", "body", "_parent_number", *metadata}
    by_path = sample_api.stats()["by_path"]
    # window 1: since 12th, 144 records, 100 a page: 2 pages; window 2: since 13th, 96 records: 1 page;
    # then one page of comments for each of the 96 issues updated in the two windows
    assert by_path == {
        "/repos/apache/beam/issues": 2,
        f"/repositories/{repository_id('apache', 'beam')}/issues": 1,
        **{f"/repos/apache/beam/issues/{number}/comments": 1 for number in numbers},
    }
