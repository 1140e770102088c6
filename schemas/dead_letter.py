"""A message the engine refused, kept so it can be fixed and replayed.

A dead letter must itself be publishable: the producer refuses a request over
its ``max_request_size`` (1 MiB by default), and base64 makes the refused bytes
a third larger. ``DeadLetter.build`` therefore keeps the original whole when it
fits under a byte budget and otherwise its longest prefix, with the size and
SHA-256 of the whole so a replay can tell it holds only part of it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

import orjson
from pydantic import BeforeValidator, Field

from schemas.base import Contract
from schemas.types import INT64_MAX, SURROGATE, AsInt, Base64Bytes, Sha256Hex, UtcDatetime

#: The error text is a diagnosis, not a payload: longer text is cut.
ERROR_MAX_CHARS = 2000
#: Default budget for one encoded dead letter: under aiokafka's default
#: ``max_request_size`` (1,048,576) with room for the record's own overhead.
DEFAULT_MAX_BYTES = 900_000


def _pair(value: Any) -> Any:
    # JSON has no tuples: a header arrives as a two-element array.
    return tuple(value) if isinstance(value, list) else value


#: One Kafka header: ``[name, base64 value]`` on the wire; the value may be null.
Header = Annotated[tuple[str, Base64Bytes | None], BeforeValidator(_pair)]


class DeadLetter(Contract):
    """A refused message with where it came from and why it was refused.

    ``key``, ``headers``, ``original_size``, ``original_sha256`` and
    ``truncated`` were added within version 1 and are optional: dead letters
    written before them still decode. ``truncated`` is true when this dead
    letter does not hold the whole message: ``original`` is a prefix (shorter
    than ``original_size``), or the key or headers were dropped (``error``
    then starts with a note saying so).
    """

    original: Base64Bytes = Field(description="the refused message bytes (a prefix if truncated), base64 on the wire")
    source_topic: str = Field(min_length=1)
    source_partition: Annotated[int, Field(ge=0, le=INT64_MAX), AsInt]
    source_offset: Annotated[int, Field(ge=0, le=INT64_MAX), AsInt]
    error: str
    time: UtcDatetime
    key: Base64Bytes | None = Field(default=None, description="the refused message's key, base64; null if it had none")
    headers: list[Header] = Field(default_factory=list, description="the refused message's headers: [name, base64]")
    original_size: Annotated[int, Field(ge=0, le=INT64_MAX), AsInt] | None = Field(
        default=None, description="bytes in the whole message"
    )
    original_sha256: Sha256Hex | None = Field(default=None, description="SHA-256 of the whole message, hex")
    truncated: bool = Field(default=False, description="true if this dead letter does not hold the whole message")

    def encode(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))

    @classmethod
    def build(
        cls,
        value: bytes | None,
        key: bytes | None,
        headers: Sequence[tuple[str, bytes | None]],
        source_topic: str,
        source_partition: int,
        source_offset: int,
        error: str,
        time: datetime,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> DeadLetter:
        """A dead letter whose ``encode()`` is at most ``max_bytes`` long.

        In order of sacrifice: the original is kept whole if it fits, else its
        longest prefix that fits; the error text (at most ERROR_MAX_CHARS) is
        cut only if even an empty original does not fit, that is when the key
        and headers alone are too large. Only then, at the edge, are the
        headers dropped, and then the key, with a note at the start of
        ``error``. A null value (a tombstone) is kept as empty bytes.

        Raises ValueError (a pydantic ValidationError) for invalid arguments,
        such as an empty topic, a negative offset or a naive time, and when
        ``max_bytes`` is smaller than a dead letter with nothing in it.
        """
        original = b"" if value is None else bytes(value)
        pairs = [(_text(name), None if v is None else bytes(v)) for name, v in headers]
        common: dict[str, Any] = {
            "source_topic": _text(source_topic),
            "source_partition": source_partition,
            "source_offset": source_offset,
            "time": time,
            "original_size": len(original),
            "original_sha256": hashlib.sha256(original).hexdigest(),
        }
        error = _text(str(error))[:ERROR_MAX_CHARS]
        whole = cls(original=original, key=key, headers=pairs, error=error, **common)
        if len(whole.encode()) <= max_bytes:
            return whole
        key_size = 0 if key is None else len(key)
        header_size = sum(len(n) + len(v or b"") for n, v in pairs)
        stages = [
            (key, pairs, ""),
            (key, [], f"[dead letter: headers dropped, {header_size} bytes] "),
            (None, [], f"[dead letter: key and headers dropped, {key_size} + {header_size} bytes] "),
        ]
        for kept_key, kept_headers, note in stages:
            dropped = bool(note)
            truncated = dropped or len(original) > 0  # nothing dropped: the original must be cut
            shell = cls(original=b"", key=kept_key, headers=kept_headers, error="", truncated=truncated, **common)
            room = max_bytes - len(shell.encode())
            if room < 0:
                continue
            text = _longest_fitting(note + error, room)
            room -= _json_len(text)
            # base64 of n bytes is 4 * ceil(n / 3) characters, none of them escaped in JSON;
            # once the error is cut, no byte of the original is kept.
            keep = min(len(original) if dropped else max(len(original) - 1, 0), room // 4 * 3)
            keep = keep if text == note + error else 0
            return shell.model_copy(update={"original": original[:keep], "error": text})
        smallest = len(cls(original=b"", error="", truncated=True, **common).encode())
        raise ValueError(f"max_bytes {max_bytes} is smaller than the smallest dead letter ({smallest} bytes)")


def _text(value: str) -> str:
    """Text that orjson can write: lone surrogates become ``\\udxxx`` escapes."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8") if SURROGATE.search(value) else value


def _json_len(text: str) -> int:
    return len(orjson.dumps(text)) - 2


def _longest_fitting(text: str, room: int) -> str:
    """The longest prefix of ``text`` whose JSON string body is at most ``room`` bytes."""
    if _json_len(text) <= room:
        return text
    lo, hi = 0, len(text)  # text[:lo] fits, text[:hi] does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _json_len(text[:mid]) <= room:
            lo = mid
        else:
            hi = mid
    return text[:lo]
