"""The published JSON Schema and the validator accept exactly the same messages.

Producers in other languages validate against ``schemas/json``; if the Python
validator accepted more (``12345`` as a time, ``true`` as a version) their bugs
would pass there and fail here, or the other way round. Instances are valid
examples with one or two fields mutated; the schemas are checked by the
``jsonschema`` library with date-time format checking on.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from schemas import CONTRACTS, ContractError
from schemas.examples import EXAMPLES
from schemas.jsonschema import JSON_DIR
from tests.schemas.strategies import EDGE_TIMES, mutated, put, time_paths

FORMATS = Draft202012Validator.FORMAT_CHECKER

#: Rules JSON Schema cannot state (uniqueness by a key, comparing two fields);
#: each contract's schema description names them. A message may break only
#: these and still pass the schema.
CROSS_FIELD = {
    "race_card": ("appears more than once",),
    "market_update": ("crossed book",),
    "race_result": ("appears more than once", "both finished and non-runner"),
}


def _schema(name: str) -> Draft202012Validator:
    doc = json.loads((JSON_DIR / f"{name}.v{CONTRACTS[name].SCHEMA_VERSION}.json").read_text())
    Draft202012Validator.check_schema(doc)
    return Draft202012Validator(doc, format_checker=FORMATS)


# Without rfc3339-validator installed, jsonschema skips date-time silently and
# every time test below would compare against a schema that checks nothing.
assert "date-time" in FORMATS.checkers and not FORMATS.conforms("2025-03-08T13:30:00", "date-time")
SCHEMAS = {name: _schema(name) for name in CONTRACTS}


def _verdicts(name: str, doc: Any) -> tuple[bool, bool, ContractError | None]:
    """(schema accepts, validator accepts, the validator's error) for one instance.

    The wire text comes from the standard library, which also writes integers
    beyond 64 bits; the validator reads it as the worker does (orjson) and as
    an HTTP body (``validate_obj`` on the standard library's parse) and both
    must agree.
    """
    text = json.dumps(doc)
    schema_ok = SCHEMAS[name].is_valid(json.loads(text))
    model = CONTRACTS[name]
    errors = []
    for attempt in (lambda: model.decode(text.encode()), lambda: model.validate_obj(json.loads(text))):
        try:
            msg = attempt()
        except ContractError as exc:
            errors.append(exc)
        else:
            # whatever is accepted is written so that the schema and the validator accept it again
            assert model.decode(msg.encode()) == msg
            assert SCHEMAS[name].is_valid(orjson.loads(msg.encode())), msg.encode()
    assert len(errors) in (0, 2), f"decode and validate_obj disagree on {text}: {errors}"
    return schema_ok, not errors, errors[0] if errors else None


def _assert_agree(name: str, doc: Any) -> None:
    schema_ok, validator_ok, error = _verdicts(name, doc)
    if schema_ok and error is not None:
        allowed = CROSS_FIELD.get(name, ())
        beyond = [e for e in error.errors if not any(rule in e.reason for rule in allowed)]
        assert not beyond, f"schema accepts, validator refuses {json.dumps(doc)}: {error}"
        return
    assert validator_ok == schema_ok, f"validator {validator_ok}, schema {schema_ok}: {json.dumps(doc)}"


@pytest.mark.parametrize("name", sorted(CONTRACTS))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_validator_and_schema_agree_on_mutated_messages(name: str, data: st.DataObject) -> None:
    _assert_agree(name, orjson.loads(EXAMPLES[name].encode()))
    doc = data.draw(mutated(orjson.loads(EXAMPLES[name].encode())))
    _assert_agree(name, doc)


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_validator_and_schema_agree_on_edge_times(name: str) -> None:
    example = orjson.loads(EXAMPLES[name].encode())
    disagreements = []
    for path in time_paths(example):
        for value in [*EDGE_TIMES, 12345, 1741411800.5, True, None]:
            doc = orjson.loads(EXAMPLES[name].encode())
            put(doc, path, value)
            try:
                _assert_agree(name, doc)
            except AssertionError as exc:
                disagreements.append(f"{path} = {value!r}: {str(exc)[:200]}")
    assert not disagreements, "\n".join(disagreements)


#: (contract, field, value, schema and validator accept it)
CHOSEN = [
    ("race_card", ("race", "off_time"), 12345, False),
    ("race_card", ("schema_version",), True, False),
    ("race_card", ("race", "distance_m"), True, False),
    ("race_card", ("race", "distance_m"), "1600", False),
    ("race_card", ("race", "course"), 7, False),
    ("race_card", ("runners", 0, "price"), "2.6", False),
    ("market_update", ("in_play",), 0, False),
    ("market_update", ("back_size",), False, False),
    ("registry_event", ("artifact_sha256",), "a" * 64 + "\n", False),
    ("dead_letter", ("original",), "e30=\n", False),
    ("dead_letter", ("source_offset",), 2**63, False),
    # JSON has one number type: 1600.0 is the integer 1600 for JSON Schema, and so here
    ("race_card", ("race", "distance_m"), 1600.0, True),
    ("race_card", ("schema_version",), 1.0, True),
]


def test_chosen_type_confusions() -> None:
    wrong = []
    for name, path, value, accepted in CHOSEN:
        doc = orjson.loads(EXAMPLES[name].encode())
        put(doc, path, value)
        got = _verdicts(name, doc)[:2]
        if got != (accepted, accepted):
            wrong.append(f"{name} {path} = {value!r}: (schema, validator) = {got}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("name", sorted(CROSS_FIELD))
def test_rules_beyond_the_schema_are_stated_in_it(name: str) -> None:
    description = SCHEMAS[name].schema["description"]
    assert "Beyond the JSON Schema" in description
