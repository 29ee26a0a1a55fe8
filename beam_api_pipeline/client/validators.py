"""Validators: what an answer says to ask again with (`ETag`, `Last-Modified`), as the control store keeps them.

A `Last-Modified` is used only when the answer's `Date` is at least a second later (RFC 9110 8.8.2.2: else a
change within the same second would go unseen); a weak ETag (`W/"..."`, as GitHub sends) is used as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

#: The validators a walk kept, as a WindowResult carries them to the commit: (request key, ETag, Last-Modified) each.
KeptValidators = tuple[tuple[str, str | None, str | None], ...]


@dataclass(frozen=True)
class Validators:
    """What the last answer to a request said to ask again with: its `ETag` and/or `Last-Modified`."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        """The conditional request headers these validators make."""
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


def validators_of(headers: Mapping[str, str]) -> Validators | None:
    """The validators an answer's `headers` carry (a Last-Modified only with a Date a second or more later), or
    None when it carries none that can be used."""
    found = {name.lower(): value for name, value in headers.items()}
    etag = found.get("etag") or None
    last_modified = found.get("last-modified") or None
    if last_modified is not None and not _a_second_before(last_modified, found.get("date")):
        last_modified = None
    if etag is None and last_modified is None:
        return None
    return Validators(etag, last_modified)


def _a_second_before(last_modified: str, date: str | None) -> bool:
    """Whether the HTTP dates say `last_modified` is at least one second before `date` (False if unreadable)."""
    if date is None:
        return False
    try:
        return (parsedate_to_datetime(date) - parsedate_to_datetime(last_modified)).total_seconds() >= 1
    except (TypeError, ValueError):
        return False
