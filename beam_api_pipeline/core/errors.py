"""The project's error hierarchy: every error carries a message a user can act on."""


class PipelineError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(PipelineError):
    """The configuration (file, option or reference) is invalid; one problem per line."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class ApiError(PipelineError):
    """The API answered with an error that retrying will not fix."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class RetryableApiError(ApiError):
    """A transient failure (5xx, dropped connection, timeout): worth another attempt."""


class RateLimitedError(RetryableApiError):
    """The API answered 429; `retry_after` is the wait it asked for, in seconds, if any."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message, status=429)
        self.retry_after = retry_after


class PaginationError(PipelineError):
    """A page walk cannot go on (a repeating cursor, an unreadable page)."""


class RecordsPathError(PaginationError):
    """An answer has no list of records at the endpoint's `records_path`."""


class OutputError(PipelineError):
    """A sink cannot be configured or written."""
