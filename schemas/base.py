"""Shared machinery for every message contract.

Contracts are pydantic models so that one definition gives validation, precise
field errors and a JSON Schema for producers in other languages. Bytes on the
wire are always produced and parsed with orjson, which is several times faster
than the standard library and handles UTC datetimes natively.
"""

from __future__ import annotations

import reprlib
from dataclasses import dataclass
from typing import Any, ClassVar, Self, cast

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from schemas.types import SURROGATE, SchemaVersion, UtcDatetime

__all__ = ["Contract", "ContractError", "FieldError", "Part", "UtcDatetime"]


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


_SHOWN = reprlib.Repr()  # keyword arguments only from Python 3.12
_SHOWN.maxlevel, _SHOWN.maxstring, _SHOWN.maxother, _SHOWN.maxlong = 3, 60, 60, 60


def _shown(value: Any) -> str:
    """A short repr of an offending input; never raises, whatever the input
    (a 5,000-digit int, a list nested 10,000 deep, an object whose repr fails)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return f"<int of {value.bit_length()} bits>"
    try:
        shown = _SHOWN.repr(value)
    except Exception:
        return f"<{type(value).__name__}>"
    return shown if len(shown) <= 80 else shown[:77] + "..."


def _describe(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:
        text = ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def _field_errors(exc: ValidationError) -> list[FieldError]:
    out = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "(message)"
        reason = err["msg"]
        if "input" in err and err["type"] not in {"missing"}:
            reason = f"{reason} (got {_shown(err['input'])})"
        out.append(FieldError(loc, reason))
    return out


def _lone_surrogate(obj: Any) -> str | None:
    """The dotted path of the first string (or key) that is not valid Unicode.

    orjson refuses such text on the wire; an object handed to ``validate_obj``
    may still hold it, and a message with it could be accepted but never
    encoded. Iterative, and cycle-safe, because the input is untrusted.
    """
    stack: list[tuple[Any, tuple | None]] = [(obj, None)]  # path as a linked list: (key, parent)
    seen: set[int] = set()
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            if SURROGATE.search(node):
                return _dotted(path)
        elif isinstance(node, dict | list | tuple) and id(node) not in seen:
            seen.add(id(node))
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, child in items:
                if isinstance(key, str) and SURROGATE.search(key):
                    return _dotted((key, path))
                stack.append((child, (key, path)))
    return None


def _dotted(path: tuple | None) -> str:
    keys = []
    while path is not None:
        key = path[0]
        keys.append(key if isinstance(key, str) else _shown(key))
        path = path[1]
    return ".".join(reversed(keys)) or "(message)"


class Part(BaseModel):
    """A nested part of a message: frozen; unknown fields are ignored so that
    producers can add optional fields without breaking older consumers.
    NaN and infinities are refused: JSON cannot carry them (orjson would write
    null), so a message holding one could not be sent and read back."""

    model_config = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False)

    @classmethod
    def trusted(cls, values: dict[str, Any]) -> Self:
        """An instance from values already known to be valid: what
        ``model_construct`` does for these models, without its walk over
        aliases and defaults per field, which was most of the worker's cost of
        building a prediction's runners and log rows. Fields left out take
        their constant defaults; with anything else left out (a default
        factory), ``model_construct`` does it."""
        fields = cls.__pydantic_fields__
        if values.keys() != fields.keys():
            values = {**_constant_defaults(cls), **values}
            if values.keys() != fields.keys():
                # an instance of cls (pydantic's mypy plugin types model_construct as the defining class's)
                return cast(Self, cls.model_construct(**values))
        return cls.exact({k: values[k] for k in fields})  # the serializer writes them in this order

    @classmethod
    def exact(cls, values: dict[str, Any]) -> Self:
        """:meth:`trusted` for values that already hold every field, in the
        model's field order (the worker's log rows, a handful of dicts per
        runner): no check at all, so the caller's tests must show that what
        it builds equals the validated model."""
        m = cls.__new__(cls)
        object.__setattr__(m, "__dict__", values)
        object.__setattr__(m, "__pydantic_fields_set__", set(values))
        object.__setattr__(m, "__pydantic_extra__", None)
        object.__setattr__(m, "__pydantic_private__", None)
        return m


_CONSTANT_DEFAULTS: dict[type, dict[str, Any]] = {}


def _constant_defaults(cls: type[BaseModel]) -> dict[str, Any]:
    """A model's fields whose default is a constant (not a factory)."""
    got = _CONSTANT_DEFAULTS.get(cls)
    if got is None:
        got = _CONSTANT_DEFAULTS[cls] = {
            name: f.default
            for name, f in cls.__pydantic_fields__.items()
            if not f.is_required() and f.default_factory is None
        }
    return got


class Contract(Part):
    """Base class of every top-level message: versioned, orjson on the wire.

    ``decode`` and ``validate_obj`` validate strictly (a ``"3"`` is not a
    number, ``true`` is not 1, ``12345`` is not a time), exactly as the
    published JSON Schema does; Python constructors stay lax for adapters
    that hold numpy values.
    """

    #: Bumped on a breaking change; decoders refuse versions they do not know.
    SCHEMA_VERSION: ClassVar[int] = 1
    schema_version: SchemaVersion = 1

    @classmethod
    def contract_name(cls) -> str:
        return cls.__name__

    @classmethod
    def _refuse(cls, field: str, reason: str) -> ContractError:
        return ContractError(cls.contract_name(), [FieldError(field, reason)])

    @classmethod
    def validate_obj(cls, obj: Any) -> Self:
        """Validate an already parsed object (for example an HTTP body);
        never raises anything but ContractError."""
        try:
            bad = _lone_surrogate(obj)
        except Exception as exc:  # an exotic container whose iteration fails
            raise cls._refuse("(message)", f"could not be read: {type(exc).__name__}") from exc
        if bad is not None:
            raise cls._refuse(bad, "text is not valid Unicode (a lone surrogate)")
        return cls._validated(obj)

    @classmethod
    def _validated(cls, obj: Any) -> Self:
        if not isinstance(obj, dict):
            raise cls._refuse("(message)", f"expected a JSON object, got {type(obj).__name__}")
        try:
            return cls.model_validate(obj, strict=True)
        except ValidationError as exc:
            failure = exc
        except Exception as exc:
            # The network must not crash the worker: anything else a validator
            # raises on hostile input is still a refused message.
            raise cls._refuse("(message)", f"could not be validated: {_describe(exc)}") from exc
        try:
            errors = _field_errors(failure)
        except Exception as exc:
            errors = [FieldError("(message)", f"invalid, and the errors could not be listed: {_describe(exc)}")]
        raise ContractError(cls.contract_name(), errors)

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview | str | None) -> Self:
        """Parse and validate wire bytes; never raises anything but ContractError."""
        if data is None:
            raise cls._refuse("(message)", "empty message (null value)")
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise cls._refuse("(message)", f"not valid JSON: {exc}") from None
        except Exception as exc:  # not bytes or str at all
            raise cls._refuse("(message)", f"expected bytes, got {type(data).__name__}: {exc}") from None
        # orjson never yields lone surrogates, so the Unicode walk is not needed.
        return cls._validated(obj)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def encode(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="python"))
