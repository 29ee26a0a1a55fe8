"""PipelineFactory: the registries of extractors and outputs, and the assembly of the Beam graph."""

from __future__ import annotations

from typing import ClassVar

import apache_beam as beam

from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.errors import ConfigError, OutputError
from beam_api_pipeline.extractors import registry
from beam_api_pipeline.extractors.base import BaseExtractor
from beam_api_pipeline.outputs.base import BaseOutput
from beam_api_pipeline.outputs.bigquery import BigQueryOutput
from beam_api_pipeline.outputs.files import LocalOutput
from beam_api_pipeline.outputs.gcs import GcsOutput
from beam_api_pipeline.run_plan import RunPlan
from beam_api_pipeline.transforms.commit import CommitWatermark
from beam_api_pipeline.transforms.dead_letter import WriteDeadLetters, default_dead_letter_path
from beam_api_pipeline.transforms.fetch import RECORDS, RESULTS, ReadFromApi
from beam_api_pipeline.transforms.progress import ReportProgress
from beam_api_pipeline.transforms.records import INVALID, TransformRecords
from beam_api_pipeline.transforms.write import WriteOutputs


class PipelineFactory:
    """Builds the graph of one run: ReadFromApi → TransformRecords → WriteOutputs → CommitWatermark.

    `_outputs` maps each `output[].type` to its class; extractor names live in `extractors.registry`.
    """

    _outputs: ClassVar[dict[str, type[BaseOutput]]] = {
        "local": LocalOutput,
        "bigquery": BigQueryOutput,
        "gcs": GcsOutput,
    }

    @classmethod
    def register_output(cls, type_name: str, output_class: type[BaseOutput]) -> None:
        """Make `output: [{type: type_name}]` use `output_class`."""
        cls._outputs[type_name] = output_class

    @classmethod
    def register_extractor(cls, name: str, extractor_class: type[BaseExtractor]) -> None:
        """Make `extractor_class: name` use `extractor_class` (`extractors.registry.register_extractor`)."""
        registry.register_extractor(name, extractor_class)

    @classmethod
    def extractor_class(cls, config: PipelineConfig) -> type[BaseExtractor]:
        """The class `config.extractor_class` names; a ConfigError when it is not registered or cannot be loaded."""
        return registry.load_extractor_class(config.extractor_class)

    @classmethod
    def output_of(cls, config: PipelineConfig, index: int, run_id: str) -> BaseOutput:
        """The BaseOutput of `config.output[index]` for run `run_id`. A type with no registered class, and what
        the output refuses in its configuration (OutputError), are a ConfigError naming `output.<index>`."""
        output = config.output[index]
        output_class = cls._outputs.get(output.type)
        if output_class is None:
            registered = ", ".join(sorted(cls._outputs))
            raise ConfigError(f"output.{index}.type: {output.type!r} is not registered (registered: {registered})")
        try:
            return output_class(output, config, run_id)
        except OutputError as error:
            raise ConfigError(f"output.{index}: {error}") from None

    @classmethod
    def outputs_of(cls, config: PipelineConfig, run_id: str) -> list[BaseOutput]:
        """`output_of` each enabled `output` entry; one ConfigError with a line per output that has a problem."""
        outputs, problems = [], []
        for index, output in enumerate(config.output):
            if not output.enabled:
                continue
            try:
                outputs.append(cls.output_of(config, index, run_id))
            except ConfigError as error:
                problems.extend(error.problems)
        if problems:
            raise ConfigError(problems)
        return outputs

    @staticmethod
    def dead_letter_location(config: PipelineConfig) -> str:
        """Where `config`'s dead letters go: a folder (local or gs://) or a BigQuery table."""
        section = config.dead_letter
        if section is None:
            return default_dead_letter_path(config.pipeline_id)
        return section.path or section.table

    def __init__(self, config: PipelineConfig, plan: RunPlan):
        self.config = config
        self.plan = plan

    def build(self, pipeline: beam.Pipeline) -> None:
        """Add the whole run to `pipeline`."""
        config, plan = self.config, self.plan
        extractor_class = self.extractor_class(config)
        outputs = self.outputs_of(config, plan.run_id)

        fetched = pipeline | "ReadFromApi" >> ReadFromApi(config, plan.tasks, extractor_class)
        records = fetched[RECORDS]
        if plan.replayed_records:
            batches = [(task.to_element(), [record]) for task, record in plan.replayed_records]
            replayed = pipeline | "ReplayedRecords" >> beam.Create(batches)
            records = (records, replayed) | "WithReplayedRecords" >> beam.Flatten()
        shaped = records | "TransformRecords" >> TransformRecords(config, plan.run_id)
        written = shaped["rows"] | "WriteOutputs" >> WriteOutputs(outputs)
        rejected = [rows for output in outputs for rows in output.rejected_rows()]
        rejected_rows = (rejected or [pipeline | "NoRejectedRows" >> beam.Create([])]) | "AllRejected" >> beam.Flatten()
        section = config.dead_letter
        table = section.table if section is not None else None
        dead_letters = (fetched[RESULTS], shaped[INVALID], rejected_rows) | "WriteDeadLetters" >> WriteDeadLetters(
            config.pipeline_id, plan.run_id, path=None if table else self.dead_letter_location(config), table=table
        )
        invalid_records = (shaped[INVALID], rejected_rows) | "InvalidOrRejected" >> beam.Flatten()
        _ = fetched[RESULTS] | "ReportProgress" >> ReportProgress()
        _ = fetched[RESULTS] | "CommitWatermark" >> CommitWatermark(
            config,
            plan,
            written=written,
            dead_letters=dead_letters,
            rows_written=shaped["rows_written"],
            invalid_records=invalid_records | "CountInvalid" >> beam.combiners.Count.Globally(),
        )
