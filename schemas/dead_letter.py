"""A message the engine refused, kept whole so it can be fixed and replayed."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson
from pydantic import Field, field_serializer, field_validator

from schemas.base import Contract, UtcDatetime


class DeadLetter(Contract):
    original: bytes = Field(description="the refused message bytes, base64 on the wire")
    source_topic: str = Field(min_length=1)
    source_partition: int = Field(ge=0)
    source_offset: int = Field(ge=0)
    error: str
    time: UtcDatetime

    @field_validator("original", mode="before")
    @classmethod
    def _from_base64(cls, value: Any) -> Any:
        # On the wire the bytes are base64 text; in Python they are raw bytes.
        if isinstance(value, str):
            try:
                return base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ValueError(f"not valid base64: {exc}") from None
        return value

    @field_serializer("original", when_used="json")
    def _to_base64(self, value: bytes) -> str:
        return base64.b64encode(value).decode("ascii")

    def encode(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))
