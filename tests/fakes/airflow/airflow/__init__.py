"""A minimal stand-in for Apache Airflow, enough to import a DAG file: `DAG` as a context manager that collects
the operators made inside it and keeps its keyword arguments. Put `tests/fakes/airflow` first on sys.path."""

from __future__ import annotations

from typing import Any


class DAG:
    """A DAG's settings (`kwargs`) and its operators (`tasks`)."""

    current: DAG | None = None

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.tasks: list[Any] = []

    def __enter__(self) -> DAG:
        DAG.current = self
        return self

    def __exit__(self, *exc_info: object) -> None:
        DAG.current = None
