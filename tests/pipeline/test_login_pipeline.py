"""`auth_type: login` end to end: tokens that expire every 2 s over a run of several token lives, on worker threads,
worker processes and Prism, whether the API answers an expired token 401 or `200` with an empty list. Every record
is written once, no request ever goes out with an expired token, and the logins stay within one per token life per
worker process. The job graph holds the password's reference, never the password."""

from __future__ import annotations

import math

import pytest

from beam_api_pipeline.cli import main
from sample_api import Credentials, LoginSettings
from sample_api.auth import LoginIssuer
from tests.pipeline.test_toolkit_secrets import staged_bytes
from tests.runners.runs import run_pipeline
from tests.support import items_config, runner_mode_args, t, write_yaml

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
    config = items_config(
        sample_api.url,
        tmp_path,
        api_config={
            "auth_config": login_auth(**credentials),
            "pagination": {"page_size": 4},
            "max_concurrent_requests": 4,
        },
    )
    outcome = run_pipeline(config, tmp_path, "--end_time", END, *runner_mode_args(mode))

    assert outcome.exit_code == 0
    assert sorted(outcome.ids) == sample_api.dataset.ids_between(t("2024-01-02"), t(END))
    assert outcome.dead_letters == []
    assert outcome.watermarks == {"items": t(END)}
    assert issuer.empty_answers == 0  # never an expired token read as "no records"
    statuses = sample_api.stats()["by_status"]
    assert statuses.get("401", 0) == 0  # each token was renewed before it expired
    answers = [at for at, path, _ in sample_api.answers() if path == "/items"]
    reading = answers[-1] - answers[0]
    assert reading > LIFETIME  # the run outlived a token
    renewals_each = math.ceil(reading / (LIFETIME * 3 / 4))
    assert 2 <= issuer.logins <= PROCESSES[mode] * (renewals_each + 1)
    # 12 pages a window, and after each window's full last page one more, to be sure its total was not capped
    assert statuses == {"200": 6 * 13 + issuer.logins}


@pytest.mark.parametrize("form", ["reference", "literal"])
def test_the_staged_pipeline_holds_the_password_reference_not_the_password(form, write_config, monkeypatch):
    password = "login-password-Gr8"
    monkeypatch.setenv("LOGIN_PASSWORD", password)
    auth = login_auth() if form == "reference" else login_auth(password=password)
    _, config = write_config(api_config={"auth_config": auth})
    blobs = staged_bytes(config)

    found = any(password.encode() in blob for blob in blobs)
    assert found is (form == "literal")  # the control: a literal password would be seen in a pickled DoFn
    if form == "reference":
        assert any(b"${env:LOGIN_PASSWORD}" in blob for blob in blobs[1:])


@pytest.mark.parametrize("password", ["right", "wrong"])
def test_check_reports_a_refused_login_as_an_auth_failure_without_the_password(
    password, sample_api, tmp_path, monkeypatch, capsys
):
    sample_api.credentials = Credentials(login=True)
    given = LoginSettings().password if password == "right" else "wrong-password-Hw2"
    monkeypatch.setenv("LOGIN_PASSWORD", given)
    path = write_yaml(
        tmp_path / "pipeline.yaml", items_config(sample_api.url, tmp_path, api_config={"auth_config": login_auth()})
    )
    code = main(["check", "--config", str(path)])
    captured = capsys.readouterr()

    first = captured.out.splitlines()[0]
    if password == "right":
        assert (code, first) == (0, "pass  items  auth: the first page was answered")
        return
    assert code == 1
    assert first == (
        "fail  items  auth: the API refused the credentials (401): "
        f"login to {sample_api.url}/auth/login as reader@example.com "
        'answered 400: {"message": "Failed to authenticate.", "data": {}}; check username and password'
    )
    assert given not in captured.out + captured.err
    assert sample_api.stats()["by_path"] == {"/auth/login": 1}  # no data request without a token
