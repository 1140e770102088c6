"""Field types whose validation and JSON Schema say the same thing.

A producer in another language reads only ``schemas/json``; if the Python
validator accepted more (``12345`` as a time, ``true`` as a number) that
producer's bugs would pass here and fail somewhere less obvious. Each type
below therefore carries the exact JSON Schema of what it accepts.

Two details keep the schemas exact across regex engines: patterns use only
``[0-9]``-style classes (``\\d`` is Unicode-wide in some engines), and every
anchored pattern comes with ``"not": {"pattern": "\\n"}`` because in Python's
``re`` (used by the ``jsonschema`` library) ``$`` also matches before a final
newline.
"""

from __future__ import annotations

import base64
import binascii
import numbers
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

#: Largest integer a field may hold: a Kafka offset, and what every JSON stack reads exactly.
INT64_MAX = 2**63 - 1

NO_NEWLINE = {"pattern": r"\n"}

#: A lone UTF-16 surrogate: Python text that cannot be written as UTF-8 JSON.
SURROGATE = re.compile("[\ud800-\udfff]")


def _integral(value: Any) -> Any:
    """JSON has one number type: ``3.0`` is the integer 3 (JSON Schema says so
    too), but ``true`` is not 1."""
    if type(value) is int:
        return value
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "Input should be a valid integer, not a boolean")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, numbers.Integral) and not isinstance(value, int):
        return int(value)  # numpy integers from the data adapters
    return value


#: Makes an ``int`` field an integer in the JSON sense: bools refused, integral
#: floats (``3.0``) accepted as JSON Schema does. Put bounds *before* it, as in
#: ``Annotated[int, Field(ge=0), AsInt] | None``: after it (or on a union) pydantic
#: writes them into the JSON Schema as ``ge``/``le``, which no validator knows.
AsInt = BeforeValidator(_integral)

#: The only schema version of every contract today; ``true`` is not 1.
SchemaVersion = Annotated[Literal[1], BeforeValidator(_integral)]


# -- date-times ---------------------------------------------------------------

#: RFC 3339 ``date-time`` (section 5.6): a full date, a time, an offset. Leap
#: seconds (``:60``) are refused: no Python datetime can hold them.
RFC3339 = (
    r"^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])[Tt]"
    r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?"
    r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
)
#: The first and last representable days with a non-zero offset: converting
#: those to UTC may leave years 1-9999, so they must be sent in UTC already.
EDGE_DAY_WITH_OFFSET = (
    r"^(?:0001-01-01|9999-12-31)[Tt][^+-]*[+-](?:(?:0[1-9]|1[0-9]|2[0-3]):[0-5][0-9]|00:(?:0[1-9]|[1-5][0-9]))$"
)
_RFC3339_RE = re.compile(RFC3339)
_EDGE_DAYS = {(1, 1, 1), (9999, 12, 31)}

_DATETIME_SCHEMA = {
    "type": "string",
    "format": "date-time",
    "pattern": RFC3339,
    "not": {"anyOf": [NO_NEWLINE, {"pattern": EDGE_DAY_WITH_OFFSET}]},
    "$comment": "RFC 3339 with an offset (Z or +hh:mm); on 0001-01-01 and 9999-12-31 only a zero offset, "
    "so that every value converts to UTC",
}


def _utc_datetime(value: Any) -> datetime:
    """An RFC 3339 string (or, from Python, an aware datetime) as a UTC datetime.

    Integers are refused rather than read as Unix times, and naive times are
    refused because they silently shift a race by the server's offset.
    """
    if isinstance(value, str):
        if _RFC3339_RE.fullmatch(value) is None:
            raise PydanticCustomError(
                "datetime_format",
                "Input should be an RFC 3339 date-time with an offset, such as 2025-03-08T05:30:00Z",
            )
        try:
            value = datetime.fromisoformat(value.upper())
        except ValueError as exc:  # 2025-02-30, year 0
            raise PydanticCustomError(
                "datetime_from_date_parsing", "Input is not a calendar date-time: {why}", {"why": str(exc)}
            ) from None
    elif isinstance(value, datetime):
        if value.utcoffset() is None:
            raise PydanticCustomError("timezone_aware", "Input should have timezone info")
    else:
        raise PydanticCustomError(
            "datetime_type", "Input should be an RFC 3339 date-time string, not {kind}", {"kind": type(value).__name__}
        )
    if value.utcoffset() and (value.year, value.month, value.day) in _EDGE_DAYS:
        raise PydanticCustomError(
            "datetime_range",
            "a time on 0001-01-01 or 9999-12-31 must be given in UTC (Z), or it may leave the representable years",
        )
    return value.astimezone(UTC)


#: A timezone-aware instant, normalised to UTC; on the wire an RFC 3339 string.
UtcDatetime = Annotated[datetime, BeforeValidator(_utc_datetime), WithJsonSchema(_DATETIME_SCHEMA)]


# -- bytes and digests --------------------------------------------------------

#: Standard base64 alphabet, padded, as ``base64.b64encode`` writes it.
BASE64 = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
_BASE64_RE = re.compile(BASE64)


def _from_base64(value: Any) -> Any:
    # On the wire the bytes are base64 text; in Python they are raw bytes.
    if isinstance(value, str):
        if _BASE64_RE.fullmatch(value) is None:
            raise PydanticCustomError("base64", "Input should be padded standard base64")
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:  # unreachable after the pattern; kept as a guard
            raise PydanticCustomError("base64", "Input should be base64: {why}", {"why": str(exc)}) from None
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise PydanticCustomError("bytes_type", "Input should be base64 text, not {kind}", {"kind": type(value).__name__})


def _to_base64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


#: Raw bytes in Python, padded base64 text on the wire.
Base64Bytes = Annotated[
    bytes,
    BeforeValidator(_from_base64),
    PlainSerializer(_to_base64, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "contentEncoding": "base64", "pattern": BASE64, "not": NO_NEWLINE}),
]


_HEX = set("0123456789abcdef")


def _sha256_hex(value: str) -> str:
    if len(value) != 64 or not set(value) <= _HEX:
        raise PydanticCustomError("sha256", "Input should be 64 lower-case hex digits")
    return value


def _check_sha256(value: Any) -> Any:
    return _sha256_hex(value) if isinstance(value, str) else value


#: A SHA-256 digest as 64 lower-case hex digits. The schema says "no other
#: character" rather than an anchored pattern, which every regex engine reads alike.
Sha256Hex = Annotated[
    str,
    BeforeValidator(_check_sha256),
    WithJsonSchema({"type": "string", "minLength": 64, "maxLength": 64, "not": {"pattern": "[^0-9a-f]"}}),
]
