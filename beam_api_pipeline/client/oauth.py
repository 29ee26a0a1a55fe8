"""OAuth 2.0 access tokens (`auth_type: oauth2`), shared by every thread of a worker process (`client.tokens`).

Servers that rotate refresh tokens answer each refresh with a new refresh token and refuse the old one from then
on: the shared state keeps the newest and always uses it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import requests

from beam_api_pipeline.client.tokens import (
    REFRESH_MARGIN_SECONDS,
    TRANSIENT_STATUSES,
    RenewedTokenAuth,
    TokenState,
    fingerprint,
    json_or_empty,
    reveal,
    seconds,
    shared_token_state,
)
from beam_api_pipeline.core import metrics
from beam_api_pipeline.core.errors import ApiError, RetryableApiError
from beam_api_pipeline.core.redaction import redact_url

logger = logging.getLogger(__name__)


class OAuth2Auth(RenewedTokenAuth):
    """`Authorization: <headers_prefix> <access token>`, the token got and refreshed from `token_url`.

    With `auto_refresh` a token is refreshed shortly before it expires; a 401 always earns one refresh and
    one more attempt (`refresh_after_unauthorized`), unless another thread has refreshed in the meantime.
    """

    def __init__(
        self,
        config: Any,
        pipeline_id: str = "",
        timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
        verify_ssl: bool = True,
    ):
        super().__init__(config)
        self._credentials = config.auth_credentials
        self._timeout = timeout
        self._clock = clock
        self._verify_ssl = verify_ssl
        creds = self._credentials
        grant_secret = creds.refresh_token if creds.grant_type == "refresh_token" else creds.client_secret
        key = (pipeline_id, creds.token_url, creds.client_id, fingerprint(reveal(grant_secret)))
        self._state = shared_token_state(key, self._initial_state)

    def _initial_state(self) -> TokenState:
        creds = self._credentials
        expiry = creds.token_expiry.timestamp() - REFRESH_MARGIN_SECONDS if creds.token_expiry else None
        return TokenState(reveal(creds.access_token), reveal(creds.refresh_token), expiry)

    def _renews_before_expiry(self) -> bool:
        return self._credentials.auto_refresh

    def _configured_secrets(self) -> list[str | None]:
        creds = self._credentials
        return [reveal(creds.client_secret), reveal(creds.refresh_token), reveal(creds.access_token)]

    def _renew(self, state: TokenState) -> None:
        """Ask `token_url` for a new access token (the caller holds `state.lock`)."""
        creds = self._credentials
        form = {"grant_type": creds.grant_type, "client_id": creds.client_id}
        if creds.client_secret is not None:
            form["client_secret"] = creds.client_secret.get_secret_value()
        if creds.grant_type == "refresh_token":
            form["refresh_token"] = state.refresh_token or ""
        if creds.scope:
            form["scope"] = creds.scope
        where = f"OAuth2 token request to {redact_url(creds.token_url)}"
        try:
            response = requests.post(
                creds.token_url,
                data=form,
                headers={"Accept": "application/json"},
                timeout=self._timeout,
                allow_redirects=False,
                verify=self._verify_ssl,
            )
        except (requests.ConnectionError, requests.Timeout) as error:
            raise RetryableApiError(f"{where} failed: {type(error).__name__}") from None
        body = json_or_empty(response)
        if response.status_code in TRANSIENT_STATUSES:
            raise RetryableApiError(f"{where} answered {response.status_code}", status=response.status_code)
        if response.status_code >= 400 or not body.get("access_token"):
            raise ApiError(f"{where} answered {response.status_code}: {_oauth_problem(body)}", status=401)
        lifetime = seconds(body.get("expires_in"))
        refresh_token = str(body.get("refresh_token") or state.refresh_token or "") or None
        self._store(state, str(body["access_token"]), lifetime, refresh_token)
        metrics.TOKEN_GRANTS.inc()
        logger.info("OAuth2: new access token from %s (expires in %s s)", redact_url(creds.token_url), lifetime)


def _oauth_problem(body: dict[str, Any]) -> str:
    """`invalid_grant (the refresh token ...)` from an RFC 6749 error answer, with advice for the common cases."""
    error = body.get("error")
    if not error:
        return "no access_token in the answer"
    text = f"{error} ({body['error_description']})" if body.get("error_description") else str(error)
    if error == "invalid_grant":
        text += "; the refresh token was refused: it may have expired or been used already (rotating refresh tokens)"
    elif error == "invalid_client":
        text += "; check client_id and client_secret"
    return text
