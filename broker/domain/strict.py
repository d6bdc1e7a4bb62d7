"""The base of every contract model, and the wire types its fields use.

pydantic in lax mode reads "12" as a count, "yes" as true, a braced UUID or a date with a space for
its T; the JSON Schemas in schemas/ refuse all of them, and a bureau's own validator may too. The
router refuses exactly what the schemas refuse, so these types accept a value only in the JSON
spelling the schema states (and, from Python code, the Python value itself). Their patterns are
the ones the schema generator writes (broker/tools/contract/schema.py).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Final
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Strict
from pydantic_core import PydanticCustomError


class StrictModel(BaseModel):
    # hide_input_in_errors: a ValidationError printed anywhere (a log line, a traceback) shows
    # what was wrong, never the value, which may be personal data
    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=False, hide_input_in_errors=True
    )


UUID_PATTERN: Final = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
"""A UUID as the contract writes it: hyphenated, no braces, no ``urn:uuid:``."""

DATE_TIME_PATTERN: Final = (
    r"^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(?:\.[0-9]{1,9})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
)
"""RFC 3339 with an upper-case T, seconds and an offset (Z or ±hh:mm): the one spelling every
JSON Schema validator agrees on (`format` alone is not asserted by all of them)."""


def full_match(pattern: str) -> re.Pattern[str]:
    """A schema pattern for Python: ECMA's ``$`` ends the text, Python's would allow a newline after."""
    return re.compile(pattern.removeprefix("^").removesuffix("$"))


_UUID = full_match(UUID_PATTERN)
_DATE_TIME = full_match(DATE_TIME_PATTERN)


def _uuid_text(value: Any) -> Any:
    if isinstance(value, UUID):
        return value
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        raise PydanticCustomError(
            "uuid_text", "not a UUID as the contract writes it: 8-4-4-4-12 hex digits, no braces or prefix"
        )
    return value


def _date_time_text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _DATE_TIME.fullmatch(value):
        raise PydanticCustomError(
            "date_time_text",
            "not an RFC 3339 date-time as the contract writes it: YYYY-MM-DDThh:mm:ss, an optional "
            "fraction, then Z or an offset ±hh:mm",
        )
    return value


def _json_integer(value: Any) -> Any:
    # an integral JSON number (12.0, 1e3) is an integer to JSON Schema; text and booleans are not
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("integer_type", "not an integer: write a JSON number, without quotes")
    return value


WireUuid = Annotated[UUID, BeforeValidator(_uuid_text)]
"""A UUID field of the contract."""

WireTime = Annotated[AwareDatetime, BeforeValidator(_date_time_text)]
"""A date-time field of the contract, with its UTC offset."""

WireInt = Annotated[int, BeforeValidator(_json_integer)]
"""An integer field of the contract: a JSON number with no fractional part, never text or a boolean."""

WireBool = Annotated[bool, Strict()]
"""A boolean field of the contract: JSON true or false, never "yes", 1 or "true"."""
