"""The GraphQL extractor: POSTs `query` and `variables`; window bounds and the cursor are variables."""

from __future__ import annotations

from typing import Any

from beam_api_pipeline.client.api_client import ApiRequest, ApiResponse
from beam_api_pipeline.core.errors import ApiError
from beam_api_pipeline.core.windowing import Window
from beam_api_pipeline.extractors.base import BaseExtractor
from beam_api_pipeline.pagination import Page, PagePosition

_ERRORS_SHOWN = 3


def graphql_error_message(errors: list[Any]) -> str:
    """The API's messages of a GraphQL `errors` array, with their paths: `events: invalid cursor; ...`."""
    messages = []
    for error in errors[:_ERRORS_SHOWN]:
        if isinstance(error, dict):
            path = ".".join(str(part) for part in error.get("path") or [])
            message = str(error.get("message", error))
            messages.append(f"{path}: {message}" if path else message)
        else:
            messages.append(str(error))
    more = len(errors) - _ERRORS_SHOWN
    return "; ".join(messages) + (f" (and {more} more)" if more > 0 else "")


class GraphqlExtractor(BaseExtractor):
    """Sends `{"query": endpoint.query, "variables": ...}` by POST to the endpoint's URL.

    The variables are the endpoint's `variables` (their window templates written in), then the window bounds
    (named `watermark_field` and `window_end_field`), then the cursor (named `cursor_param`). An answer with an
    `errors` array is an error carrying the API's messages, never an empty page.
    """

    def build_request(self, window: Window, position: PagePosition) -> ApiRequest:
        variables = {
            **self.window_templates(self.endpoint.variables, window),
            **self.window_params(window),
            **self.pagination.request_params(position),
        }
        body = {"query": self.endpoint.query, "variables": variables}
        return ApiRequest("POST", self.url, self.window_templates(self.endpoint.params, window), body)

    def read_page(self, response: ApiResponse) -> Page:
        errors = response.body.get("errors") if isinstance(response.body, dict) else None
        if errors:
            listed = errors if isinstance(errors, list) else [errors]
            raise ApiError(
                f"{self.endpoint_name}: the GraphQL API answered with errors: {graphql_error_message(listed)}",
                status=response.status,
            )
        return super().read_page(response)
