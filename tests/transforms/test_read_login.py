"""`auth_type: login` on ReadFromApi alone (its records through TransformRecords), against the sample API over
HTTP, on worker threads, worker processes and Prism: tokens that expire every 2 s over a read of several token
lives, whether the API answers an expired token 401 or `200` with an empty list. Every record is read once, no
request ever goes out with an expired token, and the logins stay within one per token life per worker process.
The job graph holding the password's reference, and `check` on a refused login, are in
tests/pipeline/test_login_pipeline.py."""

from __future__ import annotations

import math

import pytest

from sample_api import Credentials, LoginSettings
from sample_api.auth import LoginIssuer
from tests.support import t
from tests.transform_runners import read_on
from tests.transform_support import config

END = "2024-01-08T00:00:00Z"
LIFETIME = 2.0
#: Worker processes that each log in for themselves.
PROCESSES = {"threads": 1, "processes": 4, "prism": 1}

CASES = [
    pytest.param(mode, expired_answer, id=f"{mode}-{expired_answer}")
    for mode in ("threads", "processes", "prism")
    for expired_answer in ("empty", "401")
]


def login_auth(**credentials) -> dict:
    return {
        "auth_type": "login",
        "auth_credentials": {
            "login_path": "/auth/login",
            "username": LoginSettings().username,
            "password": "${env:LOGIN_PASSWORD}",
            "token_path": "data.token",
            **credentials,
        },
    }


@pytest.mark.parametrize(("mode", "expired_answer"), CASES)
def test_tokens_expiring_every_2_s_on_several_workers_lose_no_record(
    mode, expired_answer, sample_api, tmp_path, monkeypatch
):
    # "empty": the token's life is only its JWT exp; "401": only expires_in, the token opaque
    told = {"expires_in": False} if expired_answer == "empty" else {"jwt": False}
    sample_api.login_issuer = issuer = LoginIssuer(
        LoginSettings(token_lifetime=LIFETIME, expired_answer=expired_answer, **told)
    )
    sample_api.credentials = Credentials(login=True)
    sample_api.set_faults(latency_ms=250)  # 72 pages, 4 at a time: about 4.5 s of reading, 3 token lives
    monkeypatch.setenv("LOGIN_PASSWORD", LoginSettings().password)
    credentials = {} if expired_answer == "empty" else {"expires_in_path": "data.expires_in"}
    api_config = {
        "auth_config": login_auth(**credentials),
        "pagination": {"page_size": 4},
        "max_concurrent_requests": 4,
    }
    read = read_on(mode, tmp_path, config(tmp_path, sample_api.url, api_config=api_config), "2024-01-02", END)

    assert read.ids() == sample_api.dataset.ids_between(t("2024-01-02"), t(END))
    assert read.failures == []
    assert read.watermarks == {"items": t(END)}
    assert issuer.empty_answers == 0  # never an expired token read as "no records"
    statuses = sample_api.stats()["by_status"]
    assert statuses.get("401", 0) == 0  # each token was renewed before it expired
    answers = [at for at, path, _ in sample_api.answers() if path == "/items"]
    reading = answers[-1] - answers[0]
    assert reading > LIFETIME  # the read outlived a token
    renewals_each = math.ceil(reading / (LIFETIME * 3 / 4))
    assert 2 <= issuer.logins <= PROCESSES[mode] * (renewals_each + 1)
    # 12 pages a window, and after each window's full last page one more, to be sure its total was not capped
    assert statuses == {"200": 6 * 13 + issuer.logins}
