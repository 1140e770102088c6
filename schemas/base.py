"""Shared machinery for every message contract.

Contracts are pydantic models so that one definition gives validation, precise
field errors and a JSON Schema for producers in other languages. Bytes on the
wire are always produced and parsed with orjson, which is several times faster
than the standard library and handles UTC datetimes natively.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal, Self

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError
from pydantic.functional_validators import AfterValidator


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


#: A timezone-aware instant, normalised to UTC. Naive datetimes are rejected
#: because a naive off time silently shifts a race by the server's offset.
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]


@dataclass(frozen=True, slots=True)
class FieldError:
    """One reason a message was refused, with the dotted path of the field."""

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


class ContractError(ValueError):
    """A message that does not satisfy its contract.

    The message text names every offending field, so a dead letter or an HTTP
    422 can be acted on without reading code.
    """

    def __init__(self, contract: str, errors: list[FieldError]) -> None:
        self.contract = contract
        self.errors = errors
        detail = "; ".join(str(e) for e in errors)
        super().__init__(f"invalid {contract}: {detail}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "contract": self.contract,
            "errors": [{"field": e.field, "reason": e.reason} for e in self.errors],
        }


def _field_errors(exc: ValidationError) -> list[FieldError]:
    out = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "(message)"
        reason = err["msg"]
        if "input" in err and err["type"] not in {"missing"}:
            shown = repr(err["input"])
            if len(shown) > 80:
                shown = shown[:77] + "..."
            reason = f"{reason} (got {shown})"
        out.append(FieldError(loc, reason))
    return out


class Part(BaseModel):
    """A nested part of a message: frozen; unknown fields are ignored so that
    producers can add optional fields without breaking older consumers."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class Contract(Part):
    """Base class of every top-level message: versioned, orjson on the wire."""

    #: Bumped on a breaking change; decoders refuse versions they do not know.
    SCHEMA_VERSION: ClassVar[int] = 1
    schema_version: Literal[1] = 1

    @classmethod
    def contract_name(cls) -> str:
        return cls.__name__

    @classmethod
    def validate_obj(cls, obj: Any) -> Self:
        """Validate an already parsed object (for example an HTTP body)."""
        if not isinstance(obj, dict):
            raise ContractError(
                cls.contract_name(),
                [FieldError("(message)", f"expected a JSON object, got {type(obj).__name__}")],
            )
        try:
            return cls.model_validate(obj)
        except ValidationError as exc:
            raise ContractError(cls.contract_name(), _field_errors(exc)) from None

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview | str) -> Self:
        """Parse and validate wire bytes; never raises anything but ContractError."""
        if data is None:
            raise ContractError(cls.contract_name(), [FieldError("(message)", "empty message (null value)")])
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ContractError(cls.contract_name(), [FieldError("(message)", f"not valid JSON: {exc}")]) from None
        return cls.validate_obj(obj)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def encode(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="python"))
