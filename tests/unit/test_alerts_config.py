"""The `alerts` section as people write it in YAML: `on:` unquoted (YAML 1.1 reads it as true), the defaults,
and one line per mistake."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from beam_api_pipeline.config import load_pipeline_config
from beam_api_pipeline.core.errors import ConfigError

BASE = """\
pipeline_id: items
api_config:
  base_url: https://api.example.com
  endpoints: {items: {path: /items}}
"""


def load(tmp_path: Path, alerts: str):
    path = tmp_path / "pipeline.yaml"
    path.write_text(BASE + alerts)
    return load_pipeline_config(path)


def test_an_unquoted_on_key_is_the_list_of_conditions(tmp_path):
    config = load(tmp_path, "alerts:\n  webhook: ${env:HOOK}\n  on: [failure, stale_watermark]\n  stale_after: 36h\n")

    assert config.alerts.on == ["failure", "stale_watermark"]
    assert config.alerts.stale_after == timedelta(hours=36)
    assert config.alerts.webhook.get_secret_value() == "${env:HOOK}"


def test_defaults_are_every_condition_two_days_and_half_the_fetch_time(tmp_path):
    alerts = load(tmp_path, "alerts: {webhook: https://hooks.example.com/x}\n").alerts

    assert alerts.on == ["failure", "dead_letters", "quality", "rate_limited", "stale_watermark"]
    assert (alerts.stale_after, alerts.rate_limited_share) == (timedelta(days=2), 0.5)
    assert "hooks.example.com" not in repr(alerts)  # a secret, even when written literally


@pytest.mark.parametrize(
    ("alerts", "problem"),
    [
        (
            "alerts: {on: [failure, outage]}",
            "alerts.on.1: must be one of: failure, dead_letters, quality, rate_limited, stale_watermark",
        ),
        ("alerts: {rate_limited_share: 1.5}", "alerts.rate_limited_share: must be <= 1"),
        ("alerts: {stale_after: 0s}", "alerts.stale_after: must be > 0s"),
        ("alerts: {webhok: https://x}", "alerts.webhok: unknown key"),
    ],
)
def test_each_mistake_is_one_line_naming_its_key(tmp_path, alerts, problem):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, alerts + "\n")
    assert caught.value.problems == [f"{tmp_path / 'pipeline.yaml'}: {problem}"]
