"""What an API's answer says about its rate limit: the `RateLimit-*` headers of the IETF draft and the
`X-RateLimit-*` ones of GitHub and others, read by one rule each."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

#: A reset value above this is an epoch timestamp (GitHub's `X-RateLimit-Reset`), not a number of seconds (the
#: IETF draft's `RateLimit-Reset`): 1e9 seconds is 31 years, and as a time it is September 2001.
EPOCH_THRESHOLD = 1_000_000_000
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?")


@dataclass(frozen=True)
class RateLimitHint:
    """What an answer's headers say about the budget left: `remaining` requests until `reset_after` seconds,
    out of `limit` when the API says (else None)."""

    remaining: int
    reset_after: float
    limit: int | None = None


def header(headers: Mapping[str, str], *names: str) -> str | None:
    """The value of the first of `names` that `headers` holds, in any letter case; None when none is there."""
    lowered = {key.lower(): value for key, value in headers.items()}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def _count(headers: Mapping[str, str], name: str) -> int | None:
    """`RateLimit-<name>` or `X-RateLimit-<name>` as a count (at least 0); None when absent or no integer."""
    value = header(headers, f"RateLimit-{name}", f"X-RateLimit-{name}")
    try:
        return max(0, int(value.strip())) if value is not None else None
    except ValueError:
        return None


def remaining_requests(headers: Mapping[str, str]) -> int | None:
    """The requests left in the budget (`RateLimit-Remaining` or `X-RateLimit-Remaining`, at least 0); None when
    absent or not an integer."""
    return _count(headers, "Remaining")


def seconds_until_reset(headers: Mapping[str, str], now: Callable[[], float] = time.time) -> float | None:
    """Seconds until the budget resets (`RateLimit-Reset` or `X-RateLimit-Reset`, at least 0): a number of
    seconds, or an epoch timestamp when above `EPOCH_THRESHOLD`; None when absent or not a non-negative number."""
    reset = header(headers, "RateLimit-Reset", "X-RateLimit-Reset")
    if reset is None or not _NUMBER.fullmatch(reset.strip()):
        return None
    value = float(reset)
    return max(0.0, value - now()) if value > EPOCH_THRESHOLD else value


def parse_rate_limit_headers(headers: Mapping[str, str], now: Callable[[], float] = time.time) -> RateLimitHint | None:
    """What the `RateLimit-*` or `X-RateLimit-*` headers say (`remaining_requests`, `seconds_until_reset` and the
    `Limit` when given); None when the remaining count or the reset is absent or unreadable."""
    remaining, reset_after = remaining_requests(headers), seconds_until_reset(headers, now)
    if remaining is None or reset_after is None:
        return None
    return RateLimitHint(remaining, reset_after, _count(headers, "Limit"))
