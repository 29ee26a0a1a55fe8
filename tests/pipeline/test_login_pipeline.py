"""`auth_type: login` where only the whole shows it: the job graph holds the password's reference, never the
password; `check` reports a refused login without the password. Tokens expiring over a read of several token lives,
on worker threads, worker processes and Prism, are on ReadFromApi alone in tests/transforms/test_read_login.py."""

from __future__ import annotations

import pytest

from beam_api_pipeline.cli import main
from sample_api import Credentials, LoginSettings
from tests.pipeline.test_toolkit_secrets import staged_bytes
from tests.support import items_config, write_yaml
from tests.transforms.test_read_login import login_auth


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
