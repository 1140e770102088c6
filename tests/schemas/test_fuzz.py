"""The decoders face the network: no input may crash them."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import CONTRACTS, ContractError
from schemas.examples import EXAMPLES

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)


def _decode_or_precise_error(model: type, data: bytes) -> None:
    try:
        model.decode(data)
    except ContractError as exc:
        assert exc.errors, "a ContractError must list at least one field error"
        for err in exc.errors:
            assert err.field and err.reason
        assert str(exc).startswith(f"invalid {model.__name__}: ")


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
    paths: list[tuple] = []

    def walk(node: object, path: tuple) -> None:
        paths.append(path)
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, (*path, i))

    walk(doc, ())
    return st.tuples(st.sampled_from(paths[1:]), json_values)


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
