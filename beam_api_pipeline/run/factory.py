"""PipelineFactory: the registries of extractors and outputs, and the assembly of the Beam graph."""

from __future__ import annotations

from typing import ClassVar

import apache_beam as beam
from apache_beam import pvalue

from beam_api_pipeline.client.conditional import without_conditional_requests
from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.config.outputs import OUTPUT_TYPES, OutputConfig
from beam_api_pipeline.core.beam_windows import flatten_all
from beam_api_pipeline.core.errors import ConfigError, OutputError
from beam_api_pipeline.extractors import registry
from beam_api_pipeline.extractors.base import BaseExtractor
from beam_api_pipeline.fetch.read import RECORDS, RESULTS, ReadFromApi
from beam_api_pipeline.outputs.base import BaseOutput, OutputContext, OutputEndpoint
from beam_api_pipeline.outputs.bigquery import BigQueryOutput
from beam_api_pipeline.outputs.columnar import RunSchemas
from beam_api_pipeline.outputs.files import LocalOutput
from beam_api_pipeline.outputs.gcs import GcsOutput
from beam_api_pipeline.outputs.write import WriteOutputs
from beam_api_pipeline.plan.parents import EndpointTree
from beam_api_pipeline.plan.polls import PlanPolls
from beam_api_pipeline.plan.run_plan import RunPlan
from beam_api_pipeline.records.children import SPAWNED, FetchChildren
from beam_api_pipeline.records.dead_letters import WriteDeadLetters, default_dead_letter_path
from beam_api_pipeline.records.judge_placement import FAILED, PLACEMENTS, JudgePlacement
from beam_api_pipeline.records.latency import RecordLatencyFn
from beam_api_pipeline.records.quality import DROPPED, FAILED_WINDOWS, ROWS, ROWS_WRITTEN, CheckQuality
from beam_api_pipeline.records.row_schemas import FailContractWindows, RowSchemas
from beam_api_pipeline.records.transform import (
    CONTRACT_DROPPED,
    CONTRACT_FAILED,
    INVALID,
    KEPT,
    PLACED,
    TransformRecords,
)
from beam_api_pipeline.run.commit import CommitWatermark
from beam_api_pipeline.run.report_progress import ReportProgress
from beam_api_pipeline.schemas.baseline import timestamp_columns


class PipelineFactory:
    """Builds the graph of one run: ReadFromApi → TransformRecords (→ FetchChildren → TransformRecords, for each
    level of child endpoints) → CheckQuality (endpoints with `quality` checks) → WriteOutputs, and RowSchemas →
    CommitWatermark (which records each endpoint's schema version). A streaming run reads the windows PlanPolls
    plans, and commits each poll.

    `_outputs` maps each `output[].type` (every one of `config.outputs.OUTPUT_TYPES`) to its class; extractor
    names live in `extractors.registry`.
    """

    _outputs: ClassVar[dict[str, type[BaseOutput]]] = {
        "local": LocalOutput,
        "bigquery": BigQueryOutput,
        "gcs": GcsOutput,
    }

    @classmethod
    def register_output(cls, type_name: str, output_class: type[BaseOutput]) -> None:
        """Make `output: [{type: type_name}]` use `output_class` instead of the built-in class of that type.

        `type_name` must be one the config takes (`bigquery`, `gcs`, `local`): an entry's `config` section is
        checked by its type's model, so a config naming a new type would be refused; a ValueError says so."""
        if type_name not in OUTPUT_TYPES:
            raise ValueError(
                f"output type {type_name!r} is not one the config takes ({', '.join(OUTPUT_TYPES)}): "
                "register_output replaces the class of one of them"
            )
        cls._outputs[type_name] = output_class

    @classmethod
    def register_extractor(cls, name: str, extractor_class: type[BaseExtractor]) -> None:
        """Make `extractor_class: name` use `extractor_class` (`extractors.registry.register_extractor`)."""
        registry.register_extractor(name, extractor_class)

    @classmethod
    def extractor_class(cls, config: PipelineConfig) -> type[BaseExtractor]:
        """The class `config.extractor_class` names; a ConfigError when it is not registered or cannot be loaded."""
        return registry.load_extractor_class(config.extractor_class)

    @staticmethod
    def output_context(config: PipelineConfig, run_id: str) -> OutputContext:
        """What every writer of run `run_id` is told besides its own `config` section."""
        api = config.api_config
        watermark = api.watermark
        column = api.transform.column_of(watermark.timestamp_field) or watermark.timestamp_field
        endpoints = {
            name: OutputEndpoint(
                primary_key=key,
                timestamp_column=column,
                time_format=watermark.time_format,
                schema_contract=api.endpoints[name].schema_contract,
            )
            for name, key in api.primary_keys().items()
        }
        return OutputContext(config.pipeline_id, run_id, config.streaming.enabled, endpoints, timestamp_columns(config))

    @classmethod
    def output_of(cls, config: PipelineConfig, index: int, run_id: str) -> BaseOutput:
        """The BaseOutput of `config.output[index]` for run `run_id`; what the output refuses in its configuration
        (OutputError) is a ConfigError naming `output.<index>`."""
        return cls._new_output(config.output[index], index, cls.output_context(config, run_id))

    @classmethod
    def outputs_of(cls, config: PipelineConfig, run_id: str) -> list[BaseOutput]:
        """The BaseOutput of each enabled `output` entry; one ConfigError with a line per output that has a
        problem."""
        context = cls.output_context(config, run_id)
        outputs, problems = [], []
        for index, output in config.enabled_outputs():
            try:
                outputs.append(cls._new_output(output, index, context))
            except ConfigError as error:
                problems.extend(error.problems)
        if problems:
            raise ConfigError(problems)
        return outputs

    @classmethod
    def _new_output(cls, output: OutputConfig, index: int, context: OutputContext) -> BaseOutput:
        """`output`'s class (every type the config takes has one: `register_output`) given its `config` section
        and `context`."""
        try:
            return cls._outputs[output.type](output.config, context)
        except OutputError as error:
            raise ConfigError(f"output.{index}: {error}") from None

    @staticmethod
    def dead_letter_location(config: PipelineConfig) -> str:
        """Where `config`'s dead letters go: a folder (local or gs://) or a BigQuery table."""
        section = config.dead_letter
        if section is None:
            return default_dead_letter_path(config.pipeline_id)
        return section.path or section.table

    def __init__(self, config: PipelineConfig, plan: RunPlan, job_alerts: bool = False):
        """`job_alerts`: the commit step sends the run's alert (`alerts`), for a job nobody waits for."""
        self.config = config
        self.plan = plan
        self.job_alerts = job_alerts
        self._polls: pvalue.PCollection | None = None  # a streaming run's planned windows, once built

    def build(self, pipeline: beam.Pipeline) -> None:
        """Add the whole run to `pipeline`."""
        config, plan = self.config, self.plan
        extractor_class = self.extractor_class(config)
        outputs = self.outputs_of(config, plan.run_id)
        if plan.polls is not None:
            self._polls = pipeline | "PlanPolls" >> PlanPolls(config, plan.run_id, plan.polls)

        fetched = self._fetch_and_transform(pipeline, extractor_class)
        results = flatten_all(fetched[RESULTS], "AllResults")
        # windows a quality check or a schema contract failed count as failed fetches do: in the dead letter and at
        # the commit
        check_results = fetched[_CHECK_RESULTS]
        judged = flatten_all([results, *check_results], "WithCheckResults")
        invalid = flatten_all(fetched[INVALID], "AllInvalid")
        schemas = fetched["rows"] | "RowSchemas" >> RowSchemas(timestamp_columns(config))
        run_schemas = RunSchemas(schemas, plan.schemas_before)  # a Parquet or Avro file's columns
        written = fetched["rows"] | "WriteOutputs" >> WriteOutputs(outputs, run_schemas)
        row_times = None
        if self._polls is not None:
            watermark = config.api_config.watermark
            latency = RecordLatencyFn(
                config.api_config.transform.column_of(watermark.timestamp_field), watermark.time_format
            )
            timed = [rows | f"RecordLatency[{e}]" >> beam.ParDo(latency) for e, rows in fetched["rows"].items()]
            row_times = flatten_all(timed, "AllRowTimes")
        rejected = [rows for output in outputs for rows in output.rejected_rows()] + fetched[DROPPED]
        rejected_rows = (rejected or [pipeline | "NoRejectedRows" >> beam.Create([])]) | "AllRejected" >> beam.Flatten()
        section = config.dead_letter
        table = section.table if section is not None else None
        dead_letters = (judged, invalid, rejected_rows) | "WriteDeadLetters" >> WriteDeadLetters(
            config.pipeline_id, plan.run_id, path=None if table else self.dead_letter_location(config), table=table
        )
        invalid_records = (invalid, rejected_rows) | "InvalidOrRejected" >> beam.Flatten()
        _ = results | "ReportProgress" >> ReportProgress()
        _ = judged | "CommitWatermark" >> CommitWatermark(
            config,
            plan,
            written=written,
            dead_letters=dead_letters,
            rows_written=flatten_all(fetched["rows_written"], "AllRowsWritten"),
            invalid_records=invalid_records,
            spawned=flatten_all(fetched[SPAWNED], "AllChildTasks") if fetched[SPAWNED] else None,
            schemas=schemas,
            schema_files={
                endpoint: [path for output in outputs if (path := output.schema_file(endpoint))]
                for endpoint in config.api_config.endpoints
            },
            schema_tables={
                endpoint: [table for output in outputs if (table := output.schema_table(endpoint))]
                for endpoint in config.api_config.endpoints
            },
            alert_with=self.dead_letter_location(config) if self.job_alerts else None,
            planned=self._polls,
            row_times=row_times,
            placements=flatten_all(fetched[PLACEMENTS], "AllPlacements"),
            endpoint_rows=_endpoint_rows(fetched["rows"]),
        )

    def _fetch_and_transform(
        self, pipeline: beam.Pipeline, extractor_class: type[BaseExtractor]
    ) -> dict[str, list[pvalue.PCollection]]:
        """Each level of endpoints fetched and transformed, the roots first and then, from the records each level
        kept, its children's tasks. Out: `rows` (per endpoint), and lists of PCollections of RESULTS, INVALID,
        `rows_written`, the child tasks made (SPAWNED), and of quality checks and schema contracts the failed windows
        and the rows dropped."""
        config, plan = self.config, self.plan
        if plan.is_backfill or plan.is_replay:  # read again on purpose: no 304 may stand in for the rows to write
            config = without_conditional_requests(config)
        levels = EndpointTree.of(config.api_config).levels()
        roots = [task for task in plan.tasks if task.endpoint in levels[0]]
        source = pipeline if self._polls is None else self._polls
        fetched = source | "ReadFromApi" >> ReadFromApi(config, roots, extractor_class, conditional_requests=True)
        out: dict = {"rows": {}, RESULTS: [fetched[RESULTS]], INVALID: [], "rows_written": [], SPAWNED: []}
        out.update({_CHECK_RESULTS: [], DROPPED: [], PLACEMENTS: []})
        level = (fetched[RECORDS], fetched[RESULTS])
        shaped = self._transform_level(pipeline, level, levels[0], "", out, extractor_class)
        for depth, endpoints in enumerate(levels[1:], start=1):
            replayed_tasks = [task for task in plan.tasks if task.endpoint in endpoints]
            fetch_children = FetchChildren(config, extractor_class, endpoints, replayed_tasks)
            children = shaped[KEPT] | f"FetchChildren[{depth}]" >> fetch_children
            out[RESULTS].append(children[RESULTS])
            out[SPAWNED].append(children[SPAWNED])
            out[INVALID].append(children[INVALID])
            level = (children[RECORDS], children[RESULTS])
            shaped = self._transform_level(pipeline, level, endpoints, f"[{depth}]", out, extractor_class)
        return out

    def _transform_level(
        self,
        pipeline: beam.Pipeline,
        fetched: tuple[pvalue.PCollection, pvalue.PCollection],
        endpoints: list[str],
        level: str,
        out: dict,
        extractor_class: type[BaseExtractor],
    ) -> dict[str, pvalue.PCollection]:
        """TransformRecords of one level's `(records, fetch results)` (with the replayed records of its endpoints;
        each endpoint held to its schema contract, with FailContractWindows for `freeze`), then CheckQuality of its
        endpoints with checks (which reads the results: a window whose fetch failed is failed once), its outputs
        added to `out`. Children are fetched from the level's records before the checks:
        `drop_row` and `fail_window` are refused on an endpoint with children (`config.api`)."""
        plan = self.plan
        records, results = fetched
        replayed = [(task.to_element(), [rec]) for task, rec in plan.replayed_records if task.endpoint in endpoints]
        if replayed:
            replayed_records = pipeline | f"ReplayedRecords{level}" >> beam.Create(replayed)
            records = (records, replayed_records) | f"WithReplayedRecords{level}" >> beam.Flatten()
        transform = TransformRecords(self.config, plan.run_id, endpoints, plan.schemas_before)
        shaped = records | f"TransformRecords{level}" >> transform
        out["rows"].update(shaped["rows"])
        out[INVALID].append(shaped[INVALID])
        out["rows_written"].append(shaped["rows_written"])
        out[DROPPED].append(shaped[CONTRACT_DROPPED])
        judge = JudgePlacement(self.config, extractor_class)
        placement = (shaped[PLACED], results) | f"JudgePlacement{level}" >> judge
        out[PLACEMENTS].append(placement[PLACEMENTS])
        out[_CHECK_RESULTS].append(placement[FAILED])  # a time filter the API did not apply fails its windows
        endpoint_configs = self.config.api_config.endpoints
        if any(endpoint_configs[e].schema_contract == "freeze" and e in plan.schemas_before for e in endpoints):
            refused = (shaped[CONTRACT_FAILED], results)
            out[_CHECK_RESULTS].append(refused | f"FailContractWindows{level}" >> FailContractWindows())
        for endpoint in endpoints:
            if self.config.api_config.endpoints[endpoint].quality:
                quality = (shaped["rows"][endpoint], results) | f"CheckQuality[{endpoint}]" >> CheckQuality(
                    self.config, plan, endpoint
                )
                out["rows"][endpoint] = quality[ROWS]
                out[_CHECK_RESULTS].append(quality[FAILED_WINDOWS])
                out[DROPPED].append(quality[DROPPED])
                out["rows_written"].append(quality[ROWS_WRITTEN])
        return shaped


_CHECK_RESULTS = "check_results"


def _endpoint_rows(rows: dict[str, pvalue.PCollection]) -> pvalue.PCollection:
    """`(endpoint, rows)` of each batch of rows handed to the outputs."""
    counted = [
        batches | f"CountRows[{e}]" >> beam.Map(lambda batch, e=e: (e, len(batch))) for e, batches in rows.items()
    ]
    return flatten_all(counted, "AllEndpointRows")
