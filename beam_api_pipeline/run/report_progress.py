"""ReportProgress: tells the local progress display about each finished part of a window's walk."""

from __future__ import annotations

import apache_beam as beam

from beam_api_pipeline.plan.run_plan import ResultElement, WindowResult
from beam_api_pipeline.run import progress


class _ReportProgressFn(beam.DoFn):
    """Records of every part; windows (finished, failed) of the planned windows only, not of child tasks."""

    def process(self, element: ResultElement):
        result = WindowResult.from_element(element)
        planned = result.task.parent is None
        progress.report(result.records, planned and result.ends_window, planned and result.status.fails_window)
        return []


class ReportProgress(beam.PTransform):
    """WindowResults (as `run_plan.ResultElement`) in; nothing out."""

    def expand(self, results):
        return results | "Report" >> beam.ParDo(_ReportProgressFn())
