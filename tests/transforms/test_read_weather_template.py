"""The shipped weather config (templates/pipelines/weather.yaml, only base_url and local paths changed) on
ReadFromApi alone (its records through TransformRecords), against the sample API's Open-Meteo-shaped route: one
row per hour of inclusive days. The GitHub config, whose comments come from the run's child fetch, is a whole run
in tests/pipeline/test_toolkit_extractors.py."""

from __future__ import annotations

from datetime import timedelta

from beam_api_pipeline.config import load_pipeline_config
from sample_api.weather import hourly_value
from tests.pipeline.test_toolkit_extractors import local_copy
from tests.support import t
from tests.transform_support import Read


def test_the_weather_config_gives_one_row_per_hour_of_inclusive_days(sample_api, tmp_path):
    cfg = load_pipeline_config(local_copy("weather.yaml", sample_api.url, tmp_path))
    read = Read(tmp_path, cfg, "2023-12-30", "2024-01-09")

    rows = sorted(read.rows["hourly"], key=lambda row: row["time"])
    hours = [t("2023-12-30") + timedelta(hours=n) for n in range(10 * 24)]
    assert [row["time"] for row in rows] == [hour.strftime("%Y-%m-%dT%H:%M:%SZ") for hour in hours]
    assert [row["temperature_2m"] for row in rows] == [hourly_value("temperature_2m", 52.52, 13.41, h) for h in hours]
    assert rows[0]["latitude"] == 52.52 and rows[0]["_endpoint"] == "hourly"
    # 7-day windows on the weekly grid: [Dec 30, Jan 4) and [Jan 4, Jan 9), each one request with inclusive dates
    assert sample_api.stats()["by_path"] == {"/v1/archive": 2}
    assert read.watermarks == {"hourly": t("2024-01-09")}
