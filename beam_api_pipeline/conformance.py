"""`check`: a conformance run of a pipeline's endpoints against the live API that writes nothing and moves no
watermark. It reads the first window a run would read (at most `max_records` records) and says, one line per
check, whether the config fits the API: auth, records_path, pagination, primary keys, timestamps, unique keys,
a stable order and the schema. No Beam: the extractor and client a worker uses, in this process.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from beam_api_pipeline import jsoncodec
from beam_api_pipeline.client.api_client import ApiClient
from beam_api_pipeline.config import PipelineConfig
from beam_api_pipeline.config.api import METADATA_TIMES
from beam_api_pipeline.errors import ApiError, PipelineError, RecordsPathError
from beam_api_pipeline.extractors.base import BaseExtractor
from beam_api_pipeline.outputs.bigquery_schema import row_problems
from beam_api_pipeline.pagination import Page
from beam_api_pipeline.parents import EndpointTree, ParentRef, parent_fields
from beam_api_pipeline.paths import get_path
from beam_api_pipeline.placement import Placement, astray_example, filter_failure, is_astray
from beam_api_pipeline.record_ops import apply_transform
from beam_api_pipeline.schema_baseline import declared_fields, timestamp_columns
from beam_api_pipeline.schema_infer import describe_fields, infer_fields, json_type
from beam_api_pipeline.timeformat import parse_timestamp
from beam_api_pipeline.watermark.handler import WatermarkHandler
from beam_api_pipeline.windowing import Window, format_utc

PASS, WARN, FAIL = "pass", "warn", "fail"
#: The checks, in the order their lines are printed for each endpoint. The first (`auth`) is named for what
#: failed when the API refuses the first request (`REFUSALS`).
CHECKS = ("auth", "records_path", "pagination", "primary_key", "timestamp", "unique_keys", "stable_order", "schema")
#: What an error status of the first request says: (the check it fails, why).
REFUSALS = {
    400: ("request", "the API refused the request"),
    422: ("request", "the API refused the request"),
    401: ("auth", "the API refused the credentials"),
    403: ("auth", "the API refused the credentials"),
    404: ("path", "the API has no such path"),
}


@dataclass(frozen=True)
class CheckLine:
    """The outcome of one check of one endpoint: pass, warn or fail, and why."""

    endpoint: str
    check: str
    outcome: str
    detail: str

    def __str__(self) -> str:
        return f"{self.outcome:<4}  {self.endpoint}  {self.check}: {self.detail}"


@dataclass
class _Walk:
    """What walking the first window found."""

    window: Window
    records: list[Any]
    pages: int = 0
    first_page: Page | None = None
    ended: bool = False
    error: Exception | None = None


def first_window(config: PipelineConfig, stored: datetime | None, now: datetime) -> Window:
    """The first window a run would read: from the stored watermark (or `initial_watermark`), else the last
    `window_size` up to now (watermarks off, or nothing left to read)."""
    watermark = config.api_config.watermark
    handler = WatermarkHandler(watermark, None, config.pipeline_id, config.api_config.window_grid()[0])
    windows = handler.plan(stored, now=now)
    if windows:
        return windows[0]
    return Window(now - watermark.window.window_size, now)


class ConformanceCheck:
    """Checks the endpoints of `config` (resolved: secrets read) with `client`; `stored` gives an endpoint's
    stored watermark. A child endpoint is checked with the first record its parent's walk found."""

    def __init__(
        self,
        config: PipelineConfig,
        client: ApiClient,
        extractor_class: type[BaseExtractor],
        stored: Callable[[str], datetime | None],
        max_records: int = 1000,
        now: datetime | None = None,
    ):
        self._config = config
        self._client = client
        self._extractor_class = extractor_class
        self._stored = stored
        self._max_records = max_records
        self._now = now or datetime.now(UTC)
        self._first_records: dict[str, Any] = {}

    def run(self, only: str | None = None) -> list[CheckLine]:
        """Every check of every endpoint (or of `only`, after walking the parents it needs), parents first."""
        tree = EndpointTree.of(self._config.api_config)
        lines = []
        for endpoint in tree.lineage(only) if only else [name for level in tree.levels() for name in level]:
            checked = self._check(endpoint, tree.parents[endpoint])
            lines.extend(checked if only in (None, endpoint) else [])
        return lines

    def _check(self, endpoint: str, parent: str | None) -> list[CheckLine]:
        extractor = self._extractor_class(self._config, endpoint)
        if parent is not None:
            record = self._first_records.get(parent)
            if record is None:
                return [CheckLine(endpoint, "auth", FAIL, f"not checked: its parent {parent} found no record")]
            fields = parent_fields(extractor.endpoint)
            key = self._config.api_config.endpoints[parent].primary_key
            try:
                extractor = extractor.for_parent(ParentRef.for_record(record, key, fields))
            except ValueError as error:
                return [CheckLine(endpoint, "auth", FAIL, f"not checked: {error}")]
        window = first_window(self._config, self._stored(endpoint), self._now)
        walk = self._walk(extractor, window)
        if walk.records:
            self._first_records[endpoint] = walk.records[0]
        lines = [self._auth(endpoint, extractor, walk)]
        if lines[-1].outcome == FAIL:
            return lines
        lines.append(self._records_path(endpoint, walk))
        if lines[-1].outcome == FAIL:
            return lines
        lines.append(self._pagination(endpoint, walk))
        if not walk.records:
            return lines
        return [
            *lines,
            self._primary_key(endpoint, walk.records),
            self._timestamp(endpoint, extractor, walk, parent is not None),
            self._unique_keys(endpoint, walk.records),
            self._stable_order(endpoint, extractor, walk),
            self._schema(endpoint, walk.records),
        ]

    def _walk(self, extractor: BaseExtractor, window: Window) -> _Walk:
        walk = _Walk(window, [])
        position = extractor.pagination.first_position()
        try:
            while position is not None and len(walk.records) < self._max_records:
                page = extractor.fetch_page(self._client, window, position)  # stops a walk that repeats a page
                walk.first_page = walk.first_page or page
                walk.pages += 1
                walk.records.extend(extractor.records(page))
                position = extractor.next_position(window, position, page)
            walk.ended = position is None
        except (PipelineError, ValueError) as error:
            walk.error = error
        return walk

    def _auth(self, endpoint: str, extractor: BaseExtractor, walk: _Walk) -> CheckLine:
        """Fails when the first request failed, named for what its status says (`REFUSALS`): a refused request
        with the parameters sent and the start of the answer; refused credentials; a missing path; else any
        error before a page was read."""
        error = walk.error
        if walk.pages > 0 or error is None or isinstance(error, RecordsPathError):
            return CheckLine(endpoint, "auth", PASS, "the first page was answered")
        message = self._client.redact(str(error))
        status = error.status if isinstance(error, ApiError) else None
        if status not in REFUSALS:
            return CheckLine(endpoint, "auth", FAIL, f"the first request failed: {message}")
        check, reason = REFUSALS[status]
        if check != "request":
            return CheckLine(endpoint, check, FAIL, f"{reason} ({status}): {message}")
        request = extractor.build_request(walk.window, extractor.pagination.first_position())
        sent = self._client.redact(", ".join(f"{name}={value}" for name, value in request.params.items()))
        answer = message.partition(f"answered {status}: ")[2]
        url = self._client.redact(request.url)
        detail = f"{reason} ({status}): {request.method} {url} with {sent or 'no parameters'}; its answer: "
        detail += answer or "(empty)"
        return CheckLine(endpoint, check, FAIL, detail)

    def _records_path(self, endpoint: str, walk: _Walk) -> CheckLine:
        if isinstance(walk.error, RecordsPathError):
            return CheckLine(endpoint, "records_path", FAIL, self._client.redact(str(walk.error)))
        records_path = self._config.api_config.endpoints[endpoint].records_path
        where = repr(records_path) if records_path else "the body"
        return CheckLine(endpoint, "records_path", PASS, f"{where} holds a list on each of {walk.pages} pages")

    def _pagination(self, endpoint: str, walk: _Walk) -> CheckLine:
        if walk.error is not None:
            message = self._client.redact(str(walk.error))
            return CheckLine(endpoint, "pagination", FAIL, f"after {walk.pages} pages: {message}")
        found = f"{walk.pages} pages, {len(walk.records)} records"
        if not walk.ended:
            return CheckLine(endpoint, "pagination", WARN, f"stopped at {found} (--records), before the last page")
        return CheckLine(endpoint, "pagination", PASS, f"{found} in {walk.window.label()}, no page repeated")

    def _primary_key(self, endpoint: str, records: list[Any]) -> CheckLine:
        key = self._config.api_config.endpoints[endpoint].primary_key
        if key is None:
            return CheckLine(endpoint, "primary_key", WARN, "none set: rows are not de-duplicated, merge is off")
        missing = sum(get_path(record, key) is None for record in records)
        if missing:
            return CheckLine(endpoint, "primary_key", FAIL, f"{missing} of {len(records)} records have no {key!r}")
        return CheckLine(endpoint, "primary_key", PASS, f"every record has {key!r}")

    def _timestamp(self, endpoint: str, extractor: BaseExtractor, walk: _Walk, is_child: bool) -> CheckLine:
        """Fails on unreadable timestamps, and on a window a run would fail because the API did not apply its time
        filter (`placement.filter_failure`); warns of records outside the window."""
        watermark = self._config.api_config.watermark
        if not watermark.enabled or is_child:
            reason = "watermarks are off" if not watermark.enabled else "a child's records take their parent's window"
            return CheckLine(endpoint, "timestamp", PASS, f"not needed: {reason}")
        field = watermark.placement_field()
        unreadable, outside, astray = [], 0, []
        sends_end = self._config.api_config.sends_window_end(endpoint)
        for record in walk.records:
            value = get_path(record, field)
            try:
                moment = parse_timestamp(value, watermark.time_format)
            except (ValueError, TypeError, OverflowError):
                unreadable.append(value)
                continue
            outside += not walk.window.contains(moment)
            if is_astray(walk.window, moment, watermark, sends_end):
                astray.append(astray_example(field, value, moment))
        if unreadable:
            detail = f"{len(unreadable)} of {len(walk.records)} records: {field!r} is not readable as "
            detail += f"{watermark.time_format} (first: {unreadable[0]!r})"
            return CheckLine(endpoint, "timestamp", FAIL, detail)
        placement = Placement(len(walk.records), outside, 0, len(astray), 0, min(astray, default=None))
        if watermark.filter == "server":
            failure = filter_failure(placement, watermark.max_outside_share, extractor.filter_params(walk.window))
            if failure is not None:
                return CheckLine(endpoint, "timestamp", FAIL, f"{failure[1]} (a run fails the window)")
        if outside:
            detail = f"{outside} of {len(walk.records)} records fall outside {walk.window.label()} (a run drops them)"
            return CheckLine(endpoint, "timestamp", WARN, detail)
        return CheckLine(endpoint, "timestamp", PASS, f"every {field!r} is readable and in the window")

    def _unique_keys(self, endpoint: str, records: list[Any]) -> CheckLine:
        key = self._config.api_config.endpoints[endpoint].primary_key
        if key is None:
            return CheckLine(endpoint, "unique_keys", PASS, "not needed: no primary_key")
        keys = [get_path(record, key) for record in records]
        counts = Counter(jsoncodec.dumps(value) for value in keys if value is not None)  # no key: primary_key fails
        if not counts:
            return CheckLine(endpoint, "unique_keys", WARN, f"nothing to compare: no record has {key!r}")
        repeated = sum(1 for count in counts.values() if count > 1)
        if repeated:
            return CheckLine(endpoint, "unique_keys", WARN, f"{repeated} keys appear more than once (a run keeps one)")
        return CheckLine(endpoint, "unique_keys", PASS, f"{len(counts)} keys, each once")

    def _stable_order(self, endpoint: str, extractor: BaseExtractor, walk: _Walk) -> CheckLine:
        first = walk.first_page
        try:
            again = extractor.fetch_page(self._client, walk.window, extractor.pagination.first_position())
        except (PipelineError, ValueError) as error:
            return CheckLine(endpoint, "stable_order", FAIL, f"asking again failed: {self._client.redact(str(error))}")
        ids, again_ids = self._ids(endpoint, first.records), self._ids(endpoint, again.records)
        asked = "the first page, asked twice,"
        if ids == again_ids:
            return CheckLine(endpoint, "stable_order", PASS, f"{asked} has the same records in order")
        if sorted(ids) == sorted(again_ids):
            return CheckLine(endpoint, "stable_order", WARN, f"{asked} comes in another order")
        return CheckLine(endpoint, "stable_order", WARN, f"{asked} has other records")

    def _ids(self, endpoint: str, records: list[Any]) -> list[str]:
        key = self._config.api_config.endpoints[endpoint].primary_key
        return [jsoncodec.dumps(get_path(record, key) if key else record) for record in records]

    def _schema(self, endpoint: str, records: list[Any]) -> CheckLine:
        transform = self._config.api_config.transform
        metadata = {"_pipeline_id": "", "_endpoint": endpoint, "_run_id": ""}
        metadata |= dict.fromkeys(METADATA_TIMES, format_utc(self._now))
        rows = [apply_transform(record, transform, metadata) for record in records]
        declared = declared_fields(self._config)
        if declared is not None:
            for number, row in enumerate(rows, start=1):
                problems = row_problems(row, declared)
                if problems:
                    detail = f"row {number} does not fit the declared schema: {problems[0]}"
                    return CheckLine(endpoint, "schema", FAIL, detail)
            return CheckLine(endpoint, "schema", PASS, f"{len(rows)} rows fit the declared schema")
        return _inferred_schema_line(endpoint, rows, timestamp_columns(self._config))


def _inferred_schema_line(endpoint: str, rows: list[Any], timestamps: frozenset[str]) -> CheckLine:
    """The columns `infer_fields` finds in the rows; a top-level field seen with two kinds of value (an integer
    and text, an object and a list) fails. Integers where floats are seen too are FLOAT."""
    conflicts = _type_conflicts(rows, timestamps)
    if conflicts:
        return CheckLine(endpoint, "schema", FAIL, "no one type per column: " + "; ".join(conflicts))
    fields = infer_fields(rows, timestamps)
    return CheckLine(endpoint, "schema", PASS, f"inferred {len(fields)} columns: {describe_fields(fields)}")


def _type_conflicts(rows: list[Any], timestamps: frozenset[str]) -> list[str]:
    """For each top-level field whose non-null values are of two kinds: "'b': INTEGER in 3, STRING in 1 rows"."""
    seen: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        for name, value in row.items() if isinstance(row, dict) else ():
            if value is not None:
                seen[name]["REPEATED" if isinstance(value, list) else json_type(value, name in timestamps)] += 1
    conflicts = []
    for name, kinds in seen.items():
        if len(kinds) > 1 and set(kinds) != {"INTEGER", "FLOAT"}:
            counts = ", ".join(f"{kind} in {count}" for kind, count in kinds.most_common())
            conflicts.append(f"{name!r}: {counts} rows")
    return conflicts
