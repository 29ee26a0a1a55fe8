"""The base every config model shares, and the way a model reports a rule that spans several fields."""

from pydantic import BaseModel, ConfigDict
from pydantic_core import PydanticCustomError

#: The pydantic error type of a cross-field rule; the loader appends its ``fields`` to the error's path.
RULE_ERROR_TYPE = "config_rule"


class StrictModel(BaseModel):
    """Immutable, and an unknown key is an error: a typo in a config file must never be silently ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def rule_error(message: str, *fields: str) -> PydanticCustomError:
    """An error about ``fields`` (dotted paths relative to the model that raises it), for model validators.

    Raised from a model validator, its message is reported once per field, under that field's full path.
    """
    return PydanticCustomError(RULE_ERROR_TYPE, message, {"fields": list(fields)})
