"""The bundled sample API: a small threaded HTTP server over a deterministic, timestamped data set.

It stands in for real APIs in `make demo` and in the test suite, so that every pagination style, auth method
and extractor can run end to end without any outside host. `since` is inclusive and `until` exclusive.

- `GET /items` (page numbers), `/events` (cursor), `/records` (offset), `/feed` (next URL in the body): see `rest`;
- `POST /graphql`: a Relay connection with `pageInfo`: see `graphql`;
- `GET /repos/{owner}/{repo}/issues`: shaped like GitHub's, with `Link` headers: see `github`;
- `GET /v1/archive`: shaped like the Open-Meteo historical archive: see `weather`;
- `POST /oauth/token`: OAuth 2.0 grants with short-lived tokens and rotating refresh tokens: see `auth`;
- `POST /auth/login`: a username and password for a JWT-like token that expires in seconds: see `auth`;
- `GET /redirect?to=URL` answers 302; `GET /echo/headers` answers the headers it received;
- `GET /_stats` reports request counts by path and status and the most requests handled at once.

Faults (latency, random 500s, 429s, a `since` window that always fails, foreign or looping next links, and the
broken answers of `faults.ANSWER_FAULTS`: error statuses, dropped bodies, stalls, malformed JSON, HTML, empty or
error-object 200s, 50 MB pages; records repeated across pages, missing fields, timestamp styles) apply to the
data routes and can be changed while the server runs (`SampleApi.set_faults`); so can the credentials they
require. `SampleApi.injected()` counts the broken answers sent.
Run it with `python -m sample_api --port 8080`.
"""

from sample_api.auth import Credentials, LoginSettings, OAuthSettings
from sample_api.data import Dataset, parse_instant
from sample_api.faults import Faults
from sample_api.server import SampleApi

__all__ = ["Credentials", "Dataset", "Faults", "LoginSettings", "OAuthSettings", "SampleApi", "parse_instant"]
