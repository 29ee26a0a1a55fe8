"""What to call and how: ``api_config`` with its endpoints and per-record transform."""

import re
from datetime import timedelta
from typing import Any, Literal, Self

from pydantic import Field, field_validator, model_validator

from beam_api_pipeline.core.timeformat import MICROSECOND, resolution
from beam_api_pipeline.core.window_bounds import parse_template, templates_in

from .auth import AuthConfig, NoAuthConfig
from .base import StrictModel, rule_error
from .fields import Secret, format_duration
from .pagination import PaginationConfig
from .parallel import ParallelConfig
from .quality import WINDOW_CHECKS, QualityCheckConfig
from .retry import RetryConfig
from .watermark import WatermarkConfig

#: `{parent.<dotted field>}` in a child endpoint's path, params, body or variables.
PARENT_PLACEHOLDER = re.compile(r"\{parent\.([A-Za-z0-9_][A-Za-z0-9_.\-]*)\}")

NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
NAME_RULE = "must start with a lowercase letter and contain only a-z, 0-9 and _"
_REDIS_URL = re.compile(r"rediss?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}(/[0-9]{1,2})?")


def _strings(value: Any) -> list[str]:
    """Every string inside `value` (a string, or lists and dicts of them)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


def parent_placeholders(endpoint: "EndpointConfig") -> list[str]:
    """The parent fields named by `{parent.<field>}` in `endpoint`'s path, params, body and variables."""
    texts = _strings([endpoint.path, endpoint.params, endpoint.body, endpoint.variables])
    return sorted({field for text in texts for field in PARENT_PLACEHOLDER.findall(text)})


#: The endpoint sections that may hold window templates (``window_bounds``).
TEMPLATE_SECTIONS = ("params", "body", "variables")
#: The request parameters each pagination strategy writes itself.
_PAGING_PARAMS = {
    "page_number": ("page_param", "size_param"),
    "offset": ("offset_param", "limit_param"),
    "cursor": ("limit_param", "cursor_param"),
    "link_header": ("size_param",),
    "next_url": ("limit_param",),
    "graphql": ("cursor_param",),
}
#: The window durations that must fall on the grid of the bounds' format, by key path below ``watermark``.
_GRID_KEYS = (
    "window.window_size",
    "window.window_slide",
    "window.window_offset",
    "window.window_overlap",
    "lookback_window",
)


def window_templates(endpoint: "EndpointConfig") -> list[tuple[str, str]]:
    """The window templates in `endpoint`'s params, body and variables, each with its key path
    (``params.filter``)."""
    return [
        (f"{section}.{path}".rstrip("."), text)
        for section in TEMPLATE_SECTIONS
        for path, text in templates_in(getattr(endpoint, section))
    ]


#: What a row that does not fit its endpoint's schema does (``schema_contract``).
SchemaContract = Literal["evolve", "freeze", "discard_row", "discard_value"]


class EndpointConfig(StrictModel):
    """One stream: a path below ``base_url``, with its own watermark.

    REST endpoints use ``params`` (and ``body`` for POST); GraphQL endpoints give ``query`` and ``variables``,
    to which the window bounds and the cursor are added. ``records_path`` is where the list of records is in
    a response (``""`` = the body itself, ``items``, ``data.events.nodes``). ``pagination``, when given,
    replaces ``api_config.pagination`` for this endpoint (as a whole: its unset keys take their defaults).

    A child endpoint names its ``parent``: each parent record that changed in a window becomes a request of
    the child, its fields put where ``{parent.<field>}`` stands, and ``include_from_parent`` fields copied into
    each child row as ``_parent_<field>`` (see ``parents``).

    ``quality`` lists the data quality checks of its rows, after the transform (``QualityCheckConfig``).
    ``schema_contract`` says what a row that does not fit the endpoint's recorded schema does (``schema_contract``).
    ``conditional_requests`` sends a request that repeats with the validators of its last answer (``ETag``,
    ``Last-Modified``) and reads a 304 as "nothing new here": unset (None) or true, where the API's answers carry a
    validator, unless an enabled output truncates its table or the endpoint has a ``row_count`` or ``freshness``
    check (true is refused there); false: never (``client.conditional``).
    """

    path: str
    method: Literal["GET", "POST"] = "GET"
    params: dict[str, Any] = Field(default_factory=dict)
    body: Any = None
    records_path: str = ""
    primary_key: str | None = None
    query: str | None = None
    variables: dict[str, Any] = Field(default_factory=dict)
    pagination: PaginationConfig | None = None
    parent: str | None = None
    include_from_parent: list[str] = Field(default_factory=list)
    quality: list[QualityCheckConfig] = Field(default_factory=list)
    schema_contract: SchemaContract = "evolve"
    conditional_requests: bool | None = None

    @model_validator(mode="after")
    def _parent_fields_need_a_parent(self) -> Self:
        if self.parent is None and self.include_from_parent:
            raise rule_error("only used with parent", "include_from_parent")
        if self.parent is None and parent_placeholders(self):
            raise rule_error("{parent.<field>} is used, but the endpoint has no parent", "parent")
        return self

    @model_validator(mode="after")
    def _conditional_requests_leave_windows_their_rows(self) -> Self:
        if self.conditional_requests and (checks := self.window_checks()):
            raise rule_error(
                f"must not be true with a {checks[0]} check (a window answered 304 has no rows to judge)",
                "conditional_requests",
            )
        return self

    def window_checks(self) -> list[str]:
        """The checks of ``quality`` that judge a window's rows together (``quality.WINDOW_CHECKS``)."""
        return [check.check for check in self.quality if check.check in WINDOW_CHECKS]

    @model_validator(mode="after")
    def _window_templates_parse(self) -> Self:
        for path, text in window_templates(self):
            if self.parent is not None:
                raise rule_error("a child endpoint reads all of each parent's records: it takes no window bounds", path)
            try:
                parse_template(text)
            except ValueError as error:
                raise rule_error(str(error), path) from None
        return self


#: The columns ``transform.add_metadata`` adds to each row, in this order (``transforms.records`` fills them).
METADATA_COLUMNS = ("_pipeline_id", "_endpoint", "_window_start", "_window_end", "_extracted_at", "_run_id")
#: The metadata columns that hold times.
METADATA_TIMES = ("_window_start", "_window_end", "_extracted_at")


class TransformConfig(StrictModel):
    """Applied to each record in order: keep ``select`` (dotted paths), ``rename``, then add metadata.

    ``add_metadata`` adds the ``METADATA_COLUMNS``: ``_pipeline_id``, ``_endpoint``, ``_window_start``,
    ``_window_end``, ``_extracted_at`` and ``_run_id``.
    """

    select: list[str] | None = None
    rename: dict[str, str] = Field(default_factory=dict)
    add_metadata: bool = False

    def column_of(self, path: str) -> str | None:
        """The (dotted) column the record field at `path` becomes in a row: its first part renamed as ``rename``
        says; None when ``select`` leaves it out (it keeps neither `path` nor an object holding it)."""
        if self.select is not None and not any(path == kept or path.startswith(f"{kept}.") for kept in self.select):
            return None
        first, dot, rest = path.partition(".")
        return self.rename.get(first, first) + dot + rest


class ApiConfig(StrictModel):
    """The API side of a pipeline. ``rate_limit`` (requests per second) and ``max_concurrent_requests`` are
    for the whole job, all workers together, held as ``rate_limit_mode`` says (``client.limits``);
    ``batch_size`` is records per bundle handed downstream.
    """

    base_url: str
    timeout: float = Field(30, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)
    endpoints: dict[str, EndpointConfig] = Field(min_length=1)
    auth_config: AuthConfig = NoAuthConfig()
    pagination: PaginationConfig = PaginationConfig()
    retry: RetryConfig = RetryConfig()
    rate_limit: float | None = Field(None, gt=0)
    rate_limit_mode: Literal["share", "adaptive", "shared"] = "share"
    rate_limit_store: str | None = None
    rate_limit_store_password: Secret | None = None
    rate_limit_store_ca: Secret | None = None
    max_concurrent_requests: int | None = Field(None, gt=0)
    batch_size: int = Field(100, gt=0)
    watermark: WatermarkConfig = WatermarkConfig(enabled=False)
    parallel_config: ParallelConfig | None = None
    transform: TransformConfig = TransformConfig()
    verify_ssl: bool = True

    def window_grid(self) -> tuple[timedelta, str]:
        """The step every window bound falls on, and what sets it: the coarsest resolution of the formats the
        bounds are sent in (``watermark.time_format`` for ``watermark_field`` / ``window_end_field``, each
        template's coarsest format), 1 µs when no bound is sent."""
        watermark = self.watermark
        grids = [(MICROSECOND, "")]
        if watermark.watermark_field or watermark.window_end_field:
            step = resolution(watermark.time_format) or MICROSECOND
            grids.append((step, f"watermark.time_format {watermark.time_format!r}"))
        for name, endpoint in self.endpoints.items():
            for path, text in window_templates(endpoint) if endpoint.parent is None else []:
                step = parse_template(text).grid(watermark.time_format)
                grids.append((step or MICROSECOND, f"the template of endpoints.{name}.{path}"))
        return max(grids, key=lambda grid: grid[0])

    def sends_window_end(self, endpoint: str) -> bool:
        """Whether ``endpoint``'s requests send the window's end: ``window_end_field``, or a template holding
        ``{window_end}``."""
        if self.watermark.window_end_field:
            return True
        return any(
            placeholder.bound == "window_end"
            for _, text in window_templates(self.endpoints[endpoint])
            for placeholder in parse_template(text).placeholders()
        )

    def unfiltered_endpoints(self) -> list[str]:
        """The endpoints without a parent that send no window bound (no ``watermark_field``, ``window_end_field``
        or template) although the watermark is on and ``filter`` is server: they would read everything."""
        watermark = self.watermark
        if (
            not watermark.enabled
            or watermark.filter == "client"
            or watermark.watermark_field
            or watermark.window_end_field
        ):
            return []
        return [
            name
            for name, endpoint in self.endpoints.items()
            if endpoint.parent is None and not window_templates(endpoint)
        ]

    def primary_keys(self) -> dict[str, str | None]:
        """Each endpoint's ``primary_key`` (None: its records have no key and are not de-duplicated)."""
        return {name: endpoint.primary_key for name, endpoint in self.endpoints.items()}

    def pagination_for(self, endpoint: str) -> PaginationConfig:
        """The pagination of ``endpoint``: its own if it has one, else ``pagination``."""
        return self.endpoints[endpoint].pagination or self.pagination

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if "${" not in value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("rate_limit_store")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is not None and "${" not in value and not _REDIS_URL.fullmatch(value):
            raise ValueError(
                "must be redis://host:port/db (or rediss:// for TLS); give the password in rate_limit_store_password"
            )
        return value

    @model_validator(mode="after")
    def _rate_limit_mode_has_what_it_needs(self) -> Self:
        if self.rate_limit_mode != "share" and self.rate_limit is None:
            raise rule_error(f"required when rate_limit_mode is {self.rate_limit_mode}", "rate_limit")
        if self.rate_limit_mode == "shared" and self.rate_limit_store is None:
            raise rule_error("required when rate_limit_mode is shared", "rate_limit_store")
        store_keys = ("rate_limit_store", "rate_limit_store_password", "rate_limit_store_ca")
        stray = [key for key in store_keys if getattr(self, key) is not None]
        if self.rate_limit_mode != "shared" and stray:
            raise rule_error("only used with rate_limit_mode: shared", *stray)
        store = self.rate_limit_store or ""
        if self.rate_limit_store_ca is not None and "${" not in store and not store.startswith("rediss://"):
            raise rule_error("only used with a rediss:// (TLS) rate_limit_store", "rate_limit_store_ca")
        return self

    @field_validator("endpoints")
    @classmethod
    def _endpoint_names(cls, endpoints: dict[str, EndpointConfig]) -> dict[str, EndpointConfig]:
        for name in endpoints:
            if not NAME_PATTERN.fullmatch(name):
                raise rule_error(f"endpoint name {NAME_RULE}", name)
        return endpoints

    @model_validator(mode="after")
    def _login_goes_to_the_api_host(self) -> Self:
        auth = self.auth_config
        problem = auth.auth_credentials.login_origin_problem(self.base_url) if auth.auth_type == "login" else None
        if problem is not None:
            raise rule_error(problem, "auth_config.auth_credentials.login_path")
        return self

    @model_validator(mode="after")
    def _parents_form_a_tree(self) -> Self:
        for name, endpoint in self.endpoints.items():
            if endpoint.parent is not None and endpoint.parent not in self.endpoints:
                known = ", ".join(sorted(self.endpoints))
                message = f"{endpoint.parent!r} is not an endpoint (endpoints: {known})"
                raise rule_error(message, f"endpoints.{name}.parent")
            chain = [name]
            while (parent := self.endpoints[chain[-1]].parent) is not None:
                if parent in chain:
                    cycle = " -> ".join([*chain[chain.index(parent) :], parent])
                    raise rule_error(f"the parents form a cycle: {cycle}", f"endpoints.{name}.parent")
                chain.append(parent)
        return self

    @model_validator(mode="after")
    def _quality_checks_fit_their_endpoint(self) -> Self:
        timestamp_field = self.watermark.timestamp_field
        for name, endpoint in self.endpoints.items():
            children = sorted(child for child, config in self.endpoints.items() if config.parent == name)
            for index, check in enumerate(endpoint.quality):
                path = f"endpoints.{name}.quality.{index}"
                if children and check.action in ("drop_row", "fail_window"):
                    raise rule_error(
                        f"{check.action} is not allowed on an endpoint with child endpoints ({', '.join(children)}): "
                        "its children are fetched from every row it fetched",
                        f"{path}.action",
                    )
                if endpoint.parent is not None and check.check == "row_count":
                    raise rule_error(
                        "row_count is for endpoints without a parent (a child's window is one task per parent record)",
                        f"{path}.check",
                    )
                if endpoint.parent is not None and check.check == "freshness" and check.action == "fail_window":
                    raise rule_error("freshness on a child endpoint allows: warn", f"{path}.action")
                if check.check != "freshness" or check.field is not None:
                    continue
                if not self.watermark.enabled:
                    raise rule_error("required for freshness when the watermark is disabled", f"{path}.field")
                if self.transform.column_of(timestamp_field) is None:
                    raise rule_error(
                        f"required for freshness: transform.select drops watermark.timestamp_field ({timestamp_field})",
                        f"{path}.field",
                    )
        return self

    @model_validator(mode="after")
    def _windows_on_the_grid(self) -> Self:
        if not self.watermark.enabled:
            return self
        grid, source = self.window_grid()
        for key in _GRID_KEYS:
            value = self.watermark
            for part in key.split("."):
                value = getattr(value, part)
            if value is not None and value % grid:
                raise rule_error(
                    f"{format_duration(value)} is not a whole number of {format_duration(grid)}, the grid of "
                    f"{source} (the coarsest format a bound is sent in): the window sent would not be the window kept",
                    f"watermark.{key}",
                )
        return self

    @model_validator(mode="after")
    def _bounds_sent_once(self) -> Self:
        watermark = self.watermark
        if not watermark.enabled or watermark.filter == "client":
            return self
        bounds = {
            name: key
            for key, name in (
                ("watermark_field", watermark.watermark_field),
                ("window_end_field", watermark.window_end_field),
            )
            if name
        }
        for name, endpoint in self.endpoints.items():
            if endpoint.parent is not None:
                continue
            section = "variables" if endpoint.query is not None else "params"
            for param in set(bounds) & set(getattr(endpoint, section)):
                raise rule_error(
                    f"is watermark.{bounds[param]} too: the window bound would overwrite it",
                    f"endpoints.{name}.{section}.{param}",
                )
            pagination = self.pagination_for(name)
            owned = (
                {getattr(pagination, key): key for key in _PAGING_PARAMS[pagination.strategy]}
                if pagination.enabled
                else {}
            )
            for param in set(bounds) & set(owned):
                where = f"endpoints.{name}.pagination" if endpoint.pagination else "pagination"
                raise rule_error(
                    f"{param!r} is {where}.{owned[param]} too: the page position would overwrite the window bound",
                    f"watermark.{bounds[param]}",
                )
        return self

    @model_validator(mode="after")
    def _client_filter_walks(self) -> Self:
        parallel = self.parallel_config
        if self.watermark.filter == "client" and parallel is not None and parallel.type != "time_window":
            raise rule_error(
                f"client needs a page-by-page walk that can stop early; parallel_config {parallel.type} fetches "
                "every page of a window",
                "watermark.filter",
            )
        return self
