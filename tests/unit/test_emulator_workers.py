"""`gcp.clients.workers_use_emulators`: a run's workers are told to import the emulator plugin only when an emulator
is configured, once (that the worker processes then reach the emulators: the `file_loads-processes` case of
tests/integration/test_schema_evolution_bigquery.py)."""

from __future__ import annotations

from apache_beam.options.pipeline_options import PipelineOptions, SetupOptions

from beam_api_pipeline.gcp.clients import (
    BIGQUERY_HOST_VARIABLE,
    EMULATOR_WORKERS_PLUGIN,
    STORAGE_HOST_VARIABLE,
    workers_use_emulators,
)


def test_workers_import_the_emulator_plugin_once_when_an_emulator_is_configured(monkeypatch):
    monkeypatch.setenv(BIGQUERY_HOST_VARIABLE, "127.0.0.1:9050")
    options = PipelineOptions(["--beam_plugins=some.plugin"])

    workers_use_emulators(options)
    workers_use_emulators(options)

    assert options.view_as(SetupOptions).beam_plugins == ["some.plugin", EMULATOR_WORKERS_PLUGIN]


def test_without_an_emulator_the_workers_are_told_nothing(monkeypatch):
    monkeypatch.delenv(BIGQUERY_HOST_VARIABLE, raising=False)
    monkeypatch.delenv(STORAGE_HOST_VARIABLE, raising=False)
    options = PipelineOptions([])

    workers_use_emulators(options)

    assert options.view_as(SetupOptions).beam_plugins is None
