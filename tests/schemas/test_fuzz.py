"""The decoders face the network: no input may crash them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import CONTRACTS, ContractError
from schemas.examples import EXAMPLES
from tests.schemas.strategies import EDGE_TIMES, TIMES, mutated, paths, put, time_paths

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)


def _decode_or_precise_error(model: type, data: object) -> None:
    _precise(model, lambda: model.decode(data))


def _validate_or_precise_error(model: type, obj: object) -> None:
    _precise(model, lambda: model.validate_obj(obj))


def _precise(model: type, attempt: Callable[[], Any]) -> None:
    """Refused with a precise ContractError, or accepted as a message that can
    be written and read back: nothing else (an OverflowError, a RecursionError,
    a message that orjson cannot write) may come out."""
    try:
        msg = attempt()
    except ContractError as exc:
        assert exc.errors, "a ContractError must list at least one field error"
        for err in exc.errors:
            assert err.field and err.reason
        assert str(exc).startswith(f"invalid {model.__name__}: ")
    else:
        assert model.decode(msg.encode()) == msg


@pytest.mark.parametrize("name", sorted(CONTRACTS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300))
def test_random_bytes(name: str, data: bytes) -> None:
    _decode_or_precise_error(CONTRACTS[name], data)


@pytest.mark.parametrize("name", sorted(CONTRACTS))
@settings(max_examples=150, deadline=None)
@given(value=json_values)
def test_random_json(name: str, value: object) -> None:
    # stdlib json: it also writes integers beyond 64 bits, which orjson must refuse cleanly
    _decode_or_precise_error(CONTRACTS[name], json.dumps(value).encode())


def _mutations(doc: object) -> st.SearchStrategy:
    """Replace one leaf of a valid message with random JSON, at any depth."""
    return st.tuples(st.sampled_from(paths(doc)), json_values)


@pytest.mark.parametrize("name", sorted(CONTRACTS))
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_mutated_valid_messages(name: str, data: st.DataObject) -> None:
    doc = orjson.loads(EXAMPLES[name].encode())
    path, value = data.draw(_mutations(doc))
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    _decode_or_precise_error(CONTRACTS[name], json.dumps(doc).encode())


TIMED = sorted(name for name in CONTRACTS if time_paths(orjson.loads(EXAMPLES[name].encode())))


@pytest.mark.parametrize("name", TIMED)
@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00"])
def test_time_beyond_utc_is_one_clear_error_naming_the_field(name: str, value: str) -> None:
    # these raised OverflowError in the UTC conversion and crashed the worker
    for path in time_paths(orjson.loads(EXAMPLES[name].encode())):
        doc = orjson.loads(EXAMPLES[name].encode())
        put(doc, path, value)
        with pytest.raises(ContractError) as info:
            CONTRACTS[name].decode(orjson.dumps(doc))
        [err] = info.value.errors
        assert err.field == ".".join(map(str, path))
        assert "UTC" in err.reason and "\n" not in str(info.value)


@pytest.mark.parametrize("name", TIMED)
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_any_time_in_any_time_field(name: str, data: st.DataObject) -> None:
    doc = orjson.loads(EXAMPLES[name].encode())
    for path in time_paths(doc):
        put(doc, path, data.draw(TIMES))
    _decode_or_precise_error(CONTRACTS[name], json.dumps(doc).encode())
    _validate_or_precise_error(CONTRACTS[name], doc)


#: JSON text that orjson or the validator must refuse wherever it stands:
#: nesting past any recursion limit, numbers beyond 64 bits or a double, NaN,
#: lone surrogates, and times that cannot be converted to UTC.
HOSTILE_JSON = [
    "[" * 100_000 + "]" * 100_000,
    '{"a":' * 100_000 + "1" + "}" * 100_000,
    "[" * 1_000 + "]" * 1_000,
    "9" * 5_000,
    "-" + "9" * 400,
    "18446744073709551616",
    "-9223372036854775809",
    "1e400",
    "NaN",
    "Infinity",
    "-Infinity",
    '"\\ud800"',
    '"\\udfff\\ud800"',
    '"\\ud83d"',
    *(json.dumps(t) for t in EDGE_TIMES),
]

#: Inputs that are not a JSON document at all (decode is also handed str).
NOT_JSON = [
    b"\xed\xa0\x80",  # a surrogate encoded as UTF-8: not UTF-8
    b"\x00" * 100,
    b'{"schema_version": 1' + b', "x": 1' * 10_000 + b"}",
    '{"a": "\ud800"}',
    "\udfff",
    123,
    1.5,
    [],
    object(),
    bytearray(b"{}"),
]

_MARK = "\x00hostile\x00"


@st.composite
def hostile_wire(draw: st.DrawFn, name: str) -> object:
    """A valid message with hostile JSON text spliced in at any depth (or as an
    unknown field), with any time in its time fields, or no message at all."""
    doc = orjson.loads(EXAMPLES[name].encode())
    kind = draw(st.sampled_from(["splice", "splice", "time", "whole"]))
    if kind == "whole":
        return draw(st.sampled_from([*NOT_JSON, *(h.encode() for h in HOSTILE_JSON)]))
    if kind == "time":
        for path in time_paths(doc):
            put(doc, path, draw(TIMES))
        return json.dumps(doc).encode()
    put(doc, draw(st.sampled_from([*paths(doc), ("unknown_field",)])), _MARK)
    return json.dumps(doc).replace(json.dumps(_MARK), draw(st.sampled_from(HOSTILE_JSON))).encode()


@pytest.mark.parametrize("name", sorted(CONTRACTS))
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_hostile_wire_input(name: str, data: st.DataObject) -> None:
    _decode_or_precise_error(CONTRACTS[name], data.draw(hostile_wire(name)))


def _deep(depth: int) -> list:
    node: list = []
    for _ in range(depth):
        node = [node]
    return node


class _Hostile:
    """An object whose repr and str fail, as a caller's object might."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    __str__ = __repr__


def _cycle() -> dict:
    d: dict = {}
    d["self"] = d
    return d


HOSTILE_OBJECTS = st.one_of(
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 10**5000, -(10**5000), 2**64, 2**63]),
    st.sampled_from(["\ud800", "a\udfffb", "\ud83d\ude00", "\x00"]),
    st.sampled_from([b"bytes", bytearray(b"x"), ("a", "b"), {"a", "b"}, frozenset(), 1j, None]),
    st.builds(_deep, st.sampled_from([10, 1_000, 100_000])),
    st.builds(_Hostile),
    st.builds(_cycle),
    st.dictionaries(st.sampled_from(["\ud800", "a"]), st.just(1), min_size=1, max_size=1),
)


@pytest.mark.parametrize("name", sorted(CONTRACTS))
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_hostile_python_objects(name: str, data: st.DataObject) -> None:
    # validate_obj takes already-parsed bodies: their values need not be JSON at all
    doc = data.draw(mutated(orjson.loads(EXAMPLES[name].encode()), max_mutations=1))
    where = data.draw(st.sampled_from([(), *(p for p in paths(doc) if len(p) <= 3)]))
    hostile = data.draw(HOSTILE_OBJECTS)
    if where:
        put(doc, where, hostile)
    _validate_or_precise_error(CONTRACTS[name], doc if where else hostile)
