"""The auth of a document that declares no `securitySchemes`, read from what it says elsewhere.

An API authenticates when its operations answer 401. What it takes is then read from the descriptions: most
that name access tokens (GitHub's: "OAuth app tokens and personal access tokens (classic) need ...") take them
as a bearer token. The answer is a guess, and its reason is written beside it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .detect import path_items

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_TOKENS = re.compile(r"\b(?:access|bearer|api|auth(?:entication)?|oauth(?: app)?) tokens?\b", re.IGNORECASE)
_API_KEYS = re.compile(r"\bapi[ _-]?keys?\b", re.IGNORECASE)


@dataclass(frozen=True)
class UndeclaredAuth:
    """How many operations answer 401, and how many descriptions name tokens or API keys."""

    answer_401: int
    name_tokens: int
    name_api_keys: int

    @property
    def bearer(self) -> bool:
        """A bearer token is the guess: the API answers 401 and its prose names tokens more than API keys."""
        return self.answer_401 > 0 and self.name_tokens > self.name_api_keys

    def reason(self) -> str:
        said = f"{self.answer_401} operations answer 401"
        if self.name_tokens or self.name_api_keys:
            said += f", {self.name_tokens} descriptions name tokens and {self.name_api_keys} API keys"
        return f"the document declares no securitySchemes, but {said}"


def _operations(spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for _path, item in path_items(spec):
        for method in _METHODS:
            if isinstance(item.get(method), dict):
                yield item[method]


def undeclared_auth(spec: dict[str, Any]) -> UndeclaredAuth:
    """What `spec` says of its auth outside `securitySchemes`."""
    operations = list(_operations(spec))
    descriptions = [str(operation.get("description") or "") for operation in operations]
    descriptions.append(str((spec.get("info") or {}).get("description") or ""))
    return UndeclaredAuth(
        answer_401=sum("401" in map(str, operation.get("responses") or {}) for operation in operations),
        name_tokens=sum(bool(_TOKENS.search(text)) for text in descriptions),
        name_api_keys=sum(bool(_API_KEYS.search(text)) for text in descriptions),
    )
