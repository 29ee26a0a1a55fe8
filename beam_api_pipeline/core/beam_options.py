"""Beam pipeline options whose views are made once.

Beam 2.77's `PipelineOptions.view_as(cls)` builds an argument parser of every options class and parses the flags
again on each call, and building a graph calls it for every transform applied and every type check (for
`TypeOptions`): about half the time to build a run's graph. A view made once is the same view: every view of an
options object reads and writes its one `_all_options` dict."""

from __future__ import annotations

from typing import Any, TypeVar

from apache_beam.options.pipeline_options import PipelineOptions

View = TypeVar("View", bound=PipelineOptions)


class ViewOnceOptions(PipelineOptions):
    """PipelineOptions that keep the view of each options class they made. The kept views are left out of a copy
    or a pickle (`Pipeline` deep-copies its options), which makes its own."""

    def view_as(self, cls: type[View]) -> View:
        views = self.__dict__.setdefault("_views", {})
        if cls not in views:
            views[cls] = super().view_as(cls)
        return views[cls]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        state.pop("_views", None)
        return state
