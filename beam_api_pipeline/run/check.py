"""`check`: a conformance run of a pipeline's endpoints against the live API that writes nothing and moves no
watermark. It reads the first window a run would read (at most `max_records` records) and says, one line per
check, whether the config fits the API: auth, records_path, pagination, primary keys, timestamps, the API's
boundary semantics (probed with a record on a bound), unique keys, a stable order and the schema. No Beam: the
extractor and client a worker uses, in this process.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from beam_api_pipeline.client.api_client import ApiClient
from beam_api_pipeline.client.build import budget_share, build_client, client_limits
from beam_api_pipeline.config import PipelineConfig, resolve_config
from beam_api_pipeline.config.api import METADATA_TIMES, window_templates
from beam_api_pipeline.config.fields import format_duration
from beam_api_pipeline.control.store import opened_store
from beam_api_pipeline.control.watermarks import WatermarkHandler
from beam_api_pipeline.core import jsoncodec
from beam_api_pipeline.core.errors import ApiError, PipelineError, RecordsPathError
from beam_api_pipeline.core.paths import get_path
from beam_api_pipeline.core.timeformat import floor_to, parse_timestamp
from beam_api_pipeline.core.window_bounds import BOUNDS, parse_template
from beam_api_pipeline.core.windowing import Window, format_utc
from beam_api_pipeline.extractors.base import BaseExtractor
from beam_api_pipeline.pagination import Page
from beam_api_pipeline.plan.parents import EndpointTree, ParentRef, parent_fields
from beam_api_pipeline.records.placement import Placement, astray_example, filter_failure, is_astray
from beam_api_pipeline.records.record_ops import apply_transform
from beam_api_pipeline.run.factory import PipelineFactory
from beam_api_pipeline.run.pipelines import chosen_endpoints
from beam_api_pipeline.schemas.baseline import declared_fields, timestamp_columns
from beam_api_pipeline.schemas.bigquery_schema import row_problems
from beam_api_pipeline.schemas.infer import describe_fields, infer_fields, json_type

PASS, WARN, FAIL = "pass", "warn", "fail"
#: The checks, in the order their lines are printed for each endpoint. The first (`auth`) is named for what
#: failed when the API refuses the first request (`REFUSALS`).
CHECKS = (
    "auth",
    "records_path",
    "pagination",
    "primary_key",
    "timestamp",
    "boundaries",
    "unique_keys",
    "stable_order",
    "schema",
)
#: Per bound: its name in a `boundaries` line and the key that says whether the API includes it.
BOUND_KEYS = {"window_start": ("start", "start_inclusive"), "window_end": ("end", "end_inclusive")}
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


@dataclass(frozen=True)
class _Target:
    """The record `boundaries` probes with: its identity (`ConformanceCheck._ids`), how a line names it, its time,
    and per bound the window whose bound is that time."""

    record_id: str
    described: str
    moment: datetime
    windows: dict[str, Window]


def check_sources(config: PipelineConfig, endpoint: str | None = None, max_records: int = 1000) -> list[CheckLine]:
    """The checks of `config`'s endpoints (or of `endpoint` and the parents it needs) against the live API, with
    the client and extractor a worker would use; reads the stored watermarks, writes nothing."""
    chosen_endpoints(config, endpoint)
    resolved = resolve_config(config)
    client = build_client(resolved, client_limits(resolved, budget_share(resolved, 1)))
    try:
        with opened_store(config.watermark_store) as store:
            stored = partial(store.get_watermark, config.pipeline_id)
            extractor_class = PipelineFactory.extractor_class(config)
            return ConformanceCheck(resolved, client, extractor_class, stored, max_records).run(endpoint)
    finally:
        client.close()


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
        timestamp = self._timestamp(endpoint, extractor, walk, parent is not None)
        return [
            *lines,
            self._primary_key(endpoint, walk.records),
            timestamp,
            self._boundaries(endpoint, extractor, walk, timestamp),
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
        unreadable: list[str] = []
        outside, astray = 0, []
        sends_end = self._config.api_config.sends_window_end(endpoint)
        for record in walk.records:
            value = get_path(record, field)
            try:
                moment = parse_timestamp(value, watermark.time_format)
            except (ValueError, TypeError, OverflowError) as error:
                unreadable.append(str(error))
                continue
            outside += not walk.window.contains(moment)
            if is_astray(walk.window, moment, watermark, sends_end):
                astray.append(astray_example(field, value, moment))
        if unreadable:
            detail = f"{len(unreadable)} of {len(walk.records)} records: {field!r} is not readable as "
            detail += f"{watermark.time_format}; the first: {unreadable[0]}"
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

    def _boundaries(self, endpoint: str, extractor: BaseExtractor, walk: _Walk, timestamp: CheckLine) -> CheckLine:
        """Asks for a window starting exactly at a record's time, and one ending there (for each bound the endpoint
        sends, written as it is), and says whether the API includes the record at each bound as `start_inclusive`
        and `end_inclusive` say: a fail names the key to set."""
        watermark = self._config.api_config.watermark
        bounds = self._bounds_sent(endpoint)
        own_params = type(extractor).window_params is not BaseExtractor.window_params
        reason = next(
            (
                why
                for failed, why in (
                    (not watermark.enabled, "watermarks are off"),
                    (watermark.filter == "client", "watermark.filter is client: no window bound is sent"),
                    (extractor.endpoint.parent is not None, "a child's requests send no window"),
                    (not bounds, "the extractor writes its own window_params" if own_params else "no bound is sent"),
                    (timestamp.outcome == FAIL, "the timestamp check fails"),
                )
                if failed
            ),
            None,
        )
        target = self._probe_target(endpoint, walk.window, walk.records) if reason is None else reason
        if isinstance(target, str):
            return CheckLine(endpoint, "boundaries", PASS, f"not probed: {target}")
        exact = self._extractor_class(self._exact_bounds_config(), endpoint)
        found = {bound: self._probe(endpoint, exact, bounds, target, bound) for bound in bounds}
        if not any(isinstance(state, bool) for state in found.values()):
            reasons = [f"{BOUND_KEYS[bound][0]}: {state}" for bound, state in found.items()]
            return CheckLine(endpoint, "boundaries", PASS, "not probed: " + "; ".join(reasons))
        states = []
        for bound, (name, _) in BOUND_KEYS.items():
            state = found.get(bound)
            if isinstance(state, bool):
                states.append(f"{name} {'inclusive' if state else 'exclusive'}")
            else:
                states.append(f"{name} not sent" if state is None else f"{name} not probed: {state}")
        wrong = [
            f"watermark.{key}: {str(found[bound]).lower()}"
            for bound, (_, key) in BOUND_KEYS.items()
            if isinstance(found.get(bound), bool) and found[bound] != getattr(watermark, key)
        ]
        detail = f"{', '.join(states)} (asked for {target.described} at {format_utc(target.moment)} on each bound)"
        if wrong:
            return CheckLine(endpoint, "boundaries", FAIL, f"{detail}: set {' and '.join(wrong)}")
        return CheckLine(endpoint, "boundaries", PASS, f"{detail}, as configured")

    def _bounds_sent(self, endpoint: str) -> list[str]:
        """The bounds (`BOUNDS`) `endpoint`'s requests send: `watermark_field`, `window_end_field`, templates."""
        api = self._config.api_config
        sent = {"window_start"} if api.watermark.watermark_field else set()
        sent |= {"window_end"} if api.sends_window_end(endpoint) else set()
        for _, text in window_templates(api.endpoints[endpoint]):
            sent |= {placeholder.bound for placeholder in parse_template(text).placeholders()}
        return [bound for bound in BOUNDS if bound in sent]

    def _probe_target(self, endpoint: str, window: Window, records: list[Any]) -> _Target | str:
        """The earliest record (of `window` if any) whose placement time a bound can carry exactly (on the window
        grid), with the windows that probe it; else why there is none."""
        watermark = self._config.api_config.watermark
        field, key = watermark.placement_field(), self._config.api_config.endpoints[endpoint].primary_key
        step, what = self._config.api_config.window_grid()
        timed = []
        for record in records:
            try:
                timed.append((parse_timestamp(get_path(record, field), watermark.time_format), record))
            except (ValueError, TypeError, OverflowError):
                continue
        if not timed:
            return f"no record has a readable {field!r}"
        on_grid = [(moment, record) for moment, record in timed if floor_to(moment, step) == moment]
        if not on_grid:
            earliest = format_utc(min(moment for moment, _ in timed))
            return (
                f"no record's {field!r} is on the {format_duration(step)} grid of {what} (the earliest, {earliest}, "
                "cannot be sent exactly)"
            )
        moment, record = min(on_grid, key=lambda found: (not window.contains(found[0]), found[0]))
        # Up to the next record's time (on the grid), not just one step: an API that cuts the bounds it reads to
        # whole seconds would read [T, T + 1 µs) as empty.
        after = floor_to(min((found for found, _ in timed if found > moment), default=moment), step)
        before = floor_to(max((found for found, _ in timed if found < moment), default=moment - step), step)
        return _Target(
            self._ids(endpoint, [record])[0],
            f"{key}={get_path(record, key)!r}" if key else "a record",
            moment,
            {"window_start": Window(moment, max(after, moment + step)), "window_end": Window(before, moment)},
        )

    def _exact_bounds_config(self) -> PipelineConfig:
        """The config with each bound sent as it is (`start_inclusive: true`, `end_inclusive: false`)."""
        api = self._config.api_config
        watermark = api.watermark.model_copy(update={"start_inclusive": True, "end_inclusive": False})
        return self._config.model_copy(update={"api_config": api.model_copy(update={"watermark": watermark})})

    def _probe(self, endpoint: str, exact: BaseExtractor, bounds: list[str], target: _Target, bound: str) -> bool | str:
        """Whether `target`'s record comes back from its window whose `bound` is its time (the first page only;
        `bounds`: those sent); else why that cannot be told."""
        window, step = target.windows[bound], self._config.api_config.window_grid()[0]
        position = exact.pagination.first_position()
        try:
            page = exact.fetch_page(self._client, window, position)
        except (PipelineError, ValueError) as error:
            return f"asking failed: {self._client.redact(str(error))}"
        records = list(exact.records(page))
        watermark = self._config.api_config.watermark
        for record in records:
            try:
                found = parse_timestamp(get_path(record, watermark.placement_field()), watermark.time_format)
            except (ValueError, TypeError, OverflowError):
                continue
            if ("window_start" in bounds and found < window.start - step) or (
                "window_end" in bounds and found > window.end + step
            ):
                return f"the API answered {window.label()} with a record of {format_utc(found)}"
        if target.record_id in self._ids(endpoint, records):  # only once the API is seen to apply the bounds
            return True
        if exact.next_position(window, position, page) is not None:
            return f"the answer for {window.label()} has more than one page"
        return False

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
