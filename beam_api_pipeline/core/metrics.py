"""Every Beam metric the pipeline reports, in one place (shown in the Dataflow UI and DirectRunner results); a
reader of a run's metrics (the run report, alerts) looks them up by these objects' names (`name_of`), never by
names of its own."""

from apache_beam.metrics import Metrics

NAMESPACE = "beam_api_pipeline"

REQUESTS = Metrics.counter(NAMESPACE, "requests")
#: Conditional requests answered 304 Not Modified: nothing new since the answer their validators came from.
NOT_MODIFIED = Metrics.counter(NAMESPACE, "not_modified")
RETRIES = Metrics.counter(NAMESPACE, "retries")
#: Every 429 answer of the run; `endpoint_rate_limited` counts those of one endpoint that were retried.
RATE_LIMITED = Metrics.counter(NAMESPACE, "rate_limited_429")
#: The prefix of `endpoint_rate_limited`'s names.
RATE_LIMITED_OF = "rate_limited_429_"
THROTTLED_MSECS = Metrics.counter(NAMESPACE, "throttled_msecs")
#: Milliseconds spent fetching (each window part's, as the report's fetch seconds): throttled_msecs / fetch_msecs
#: is the share of fetch time spent throttled (the `rate_limited` alert).
FETCH_MSECS = Metrics.counter(NAMESPACE, "fetch_msecs")
REQUEST_LATENCY_MS = Metrics.distribution(NAMESPACE, "request_latency_ms")
PAGES = Metrics.counter(NAMESPACE, "pages")
RECORDS_FETCHED = Metrics.counter(NAMESPACE, "records_fetched")
RECORDS_OUTSIDE_WINDOW = Metrics.counter(NAMESPACE, "records_outside_window")
RECORDS_INVALID = Metrics.counter(NAMESPACE, "records_invalid")
#: Windows failed because the API did not apply the time filter sent (`placement.filter_failure`).
WINDOWS_NOT_FILTERED = Metrics.counter(NAMESPACE, "windows_not_filtered")
RECORDS_PER_WINDOW = Metrics.distribution(NAMESPACE, "records_per_window")
WINDOWS_SUCCEEDED = Metrics.counter(NAMESPACE, "windows_succeeded")
WINDOWS_FAILED = Metrics.counter(NAMESPACE, "windows_failed")
#: A child endpoint's tasks (one per parent record and window), which are not windows.
CHILD_TASKS_SUCCEEDED = Metrics.counter(NAMESPACE, "child_tasks_succeeded")
CHILD_TASKS_FAILED = Metrics.counter(NAMESPACE, "child_tasks_failed")
MAX_PAGES_REACHED = Metrics.counter(NAMESPACE, "max_pages_reached")
FILES_WRITTEN = Metrics.counter(NAMESPACE, "files_written")
DEAD_LETTER_FILES = Metrics.counter(NAMESPACE, "dead_letter_files")
DUPLICATES_DROPPED = Metrics.counter(NAMESPACE, "duplicates_dropped")
TOKEN_GRANTS = Metrics.counter(NAMESPACE, "oauth_token_grants")
LOGINS = Metrics.counter(NAMESPACE, "logins")
UNAUTHORIZED_RETRIES = Metrics.counter(NAMESPACE, "unauthorized_retries")
#: Seconds spent throttled, under the name Dataflow's autoscaler reads (see ThrottlingSignaler in Beam).
THROTTLING_SECONDS = Metrics.counter(NAMESPACE, "cumulativeThrottlingSeconds")
DEFERRED_REMAINDERS = Metrics.counter(NAMESPACE, "deferred_remainders")
#: When each request was sent (epoch milliseconds): its count, first and last give the rate a run achieved.
REQUEST_SENT_MS = Metrics.distribution(NAMESPACE, "request_sent_ms")
#: Outages of `rate_limit_store` (Redis) a process lived through on its local share, one per process and outage.
RATE_LIMIT_STORE_OUTAGES = Metrics.counter(NAMESPACE, "rate_limit_store_outages")
#: Windows planned as a range of pages (`parallel_config` known_pages or calculated_offset), one each.
PAGE_RANGES = Metrics.counter(NAMESPACE, "page_ranges")
#: Parts of a window's walk whose restriction the runner split while they ran (a residual went elsewhere).
SPLIT_PARTS = Metrics.counter(NAMESPACE, "split_parts")
#: Row failures of data quality checks, all checks together: one per row and check it failed (whatever the
#: check's action did with the row).
QUALITY_ROWS_FAILED = Metrics.counter(NAMESPACE, "quality_rows_failed")
#: Windows with a failure of any data quality check (once each, however many checks failed in it), and 1 for each
#: `freshness` check that found the run stale: what row_count and freshness find, which count no rows.
QUALITY_WINDOWS_FAILED = Metrics.counter(NAMESPACE, "quality_windows_failed")
#: Rows an endpoint's `schema_contract` kept out of its outputs (to the dead letter, or failing their window).
SCHEMA_ROWS_REFUSED = Metrics.counter(NAMESPACE, "schema_rows_refused")
#: Values `discard_value` left out of rows: new fields, and values of another type than their column's.
SCHEMA_VALUES_DISCARDED = Metrics.counter(NAMESPACE, "schema_values_discarded")


#: Streaming runs: polls planned, and ticks skipped because the run's last poll was not committed yet.
POLLS = Metrics.counter(NAMESPACE, "polls")
POLLS_SKIPPED = Metrics.counter(NAMESPACE, "polls_skipped")
#: Streaming runs: the records each poll wrote (one value per poll committed).
RECORDS_PER_POLL = Metrics.distribution(NAMESPACE, "records_per_poll")
#: Streaming runs: milliseconds from the oldest row's `timestamp_field` time to the commit of its poll (every
#: row of the poll written by then): one value per poll, at least every row's write latency.
POLL_WRITE_LATENCY_MS = Metrics.distribution(NAMESPACE, "poll_write_latency_ms")
#: Streaming runs: milliseconds from a row's `timestamp_field` to the moment it is handed to the outputs.
RECORD_LATENCY_MS = Metrics.distribution(NAMESPACE, "record_latency_ms")


#: The prefix of every quality check's counter (`quality_counter`), and of QUALITY_ROWS_FAILED and
#: QUALITY_WINDOWS_FAILED.
QUALITY_OF = "quality_"


def name_of(metric) -> str:
    """The name `metric` (a counter or distribution of this module) reports under, e.g. `requests`."""
    return metric.metric_name.name


def quality_counter(name: str):
    """The counter of one quality check (`quality.counter_name`: `quality_<endpoint>_<index>_<check>_rows` or
    `_windows`)."""
    return Metrics.counter(NAMESPACE, name)


def endpoint_rate_limited(endpoint: str):
    """The 429 answers to `endpoint`'s requests that were retried (`rate_limited_429_<endpoint>`)."""
    return Metrics.counter(NAMESPACE, RATE_LIMITED_OF + endpoint)
