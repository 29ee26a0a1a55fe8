"""What a run did to a rate-limited sample API, read from its answers (`SampleApi.answers()`): the rate it
achieved, its share of 429s, the most requests in any one second, and how soon it followed a lowered limit."""

from __future__ import annotations

from dataclasses import dataclass

#: (time.monotonic() when sent, path, status), as `SampleApi.answers()` gives them.
Answer = tuple[float, str, int]
TOO_MANY_REQUESTS = 429


@dataclass(frozen=True)
class RateStats:
    """`answers` and `throttled` (429s) over `seconds`, from the first answer to the last."""

    answers: int
    throttled: int
    seconds: float
    busiest_second: int

    @property
    def achieved(self) -> float:
        """Answers that were not 429s, per second."""
        return (self.answers - self.throttled) / self.seconds if self.seconds else 0.0

    @property
    def throttled_share(self) -> float:
        return self.throttled / self.answers if self.answers else 0.0


def rate_stats(answers: list[Answer], start: float | None = None, end: float | None = None) -> RateStats:
    """The stats of the answers sent in `[start, end]` (default: all of them)."""
    chosen = sorted(
        (at, status) for at, _path, status in answers if (start is None or at >= start) and (end is None or at <= end)
    )
    moments = [at for at, _status in chosen]
    return RateStats(
        answers=len(chosen),
        throttled=sum(status == TOO_MANY_REQUESTS for _at, status in chosen),
        seconds=moments[-1] - moments[0] if len(moments) > 1 else 0.0,
        busiest_second=busiest_second(moments),
    )


def busiest_second(moments: list[float]) -> int:
    """The most of the sorted `moments` that fall in any span of one second."""
    most, first = 0, 0
    for last, moment in enumerate(moments):
        while moment - moments[first] > 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


def seconds_to_follow(answers: list[Answer], lowered_at: float, max_throttled: float) -> float | None:
    """How long after `lowered_at` (when the API's limit was lowered) the share of 429s among all later answers
    first stays at or below `max_throttled`, in whole tenths of a second; None when it never does."""
    after = sorted((at, status) for at, _path, status in answers if at >= lowered_at)
    throttled_from = [0] * (len(after) + 1)  # 429s among after[i:]
    for index in range(len(after) - 1, -1, -1):
        throttled_from[index] = throttled_from[index + 1] + (after[index][1] == TOO_MANY_REQUESTS)
    for index, (at, _status) in enumerate(after):
        if throttled_from[index] <= max_throttled * (len(after) - index):
            return round(at - lowered_at, 1)
    return None
