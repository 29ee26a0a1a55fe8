"""The stand-in of `DataflowStartFlexTemplateOperator`: it keeps its keyword arguments and joins the DAG it is
made in."""

from __future__ import annotations

from typing import Any

from airflow import DAG


class DataflowStartFlexTemplateOperator:
    """Records `kwargs` (task_id, project_id, location, body, ...); launches nothing."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        if DAG.current is not None:
            DAG.current.tasks.append(self)
