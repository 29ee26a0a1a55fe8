"""StoreOutage: an outage starts at a failure, lasts RETRY_STORE_SECONDS, and is reported once each way."""

from __future__ import annotations

from beam_api_pipeline.client.store_outage import RETRY_STORE_SECONDS, StoreOutage


def test_an_outage_is_reported_once_when_it_starts_and_once_when_it_ends():
    now = [100.0]
    outage = StoreOutage(lambda: now[0])
    assert not outage.away() and not outage.answered()  # a store that answers: nothing to report
    assert outage.failed() is True and outage.away()
    now[0] += RETRY_STORE_SECONDS - 0.1
    assert outage.failed() is False and outage.away()  # the same outage, held RETRY_STORE_SECONDS from now
    now[0] += RETRY_STORE_SECONDS
    assert not outage.away()  # time to ask the store again
    assert outage.answered() is True and outage.answered() is False
    assert not outage.away()
