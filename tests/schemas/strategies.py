"""Hypothesis strategies for hostile values and mutated messages, shared by the
fuzz and schema-agreement tests."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T")

#: Times at and just inside the edges of what a datetime can hold, in and out of UTC.
EDGE_TIMES = [
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:00:00-05:00",
    "0001-01-01T04:59:59+05:00",
    "0001-01-01T10:00:00+05:00",
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00-00:00",
    "0001-01-01T00:00:00-05:00",
    "0001-01-02T00:00:00+23:59",
    "9999-12-31T23:59:59.999999Z",
    "9999-12-31T00:00:00+00:01",
    "9999-12-30T23:59:59-23:59",
    "0000-01-01T00:00:00Z",
    "2025-02-29T00:00:00Z",
    "2024-02-29T00:00:00Z",
    "2025-03-08T13:30:00",
    "2025-03-08 13:30:00Z",
    "2025-03-08t13:30:00z",
    "2025-03-08T13:30:00Z\n",
    "2025-03-08T13:30:60Z",
    "2025-03-08T24:00:00Z",
    "2025-03-08T13:30:00+24:00",
    "2025-03-08T13:30:00+0530",
    "2025-03-08T13:30:00+05:30:15",
    "2025-03-08T13:30:00.Z",
    "2025-03-08T13:30:00." + "9" * 40 + "+01:00",
    "2025-03-08",
    "12345",
    "1741411800",
]

_OFFSETS = st.one_of(
    st.sampled_from(["Z", "z", "", "+00:00", "-00:00", "+05:30", "-23:59", "+24:00", "+05:60", "+0530", "+05"]),
    st.builds(lambda s, h, m: f"{s}{h:02d}:{m:02d}", st.sampled_from("+-"), st.integers(0, 25), st.integers(0, 61)),
)


@st.composite
def _assembled_times(draw: st.DrawFn) -> str:
    """RFC 3339 look-alikes with every part near or past its limits."""
    year = draw(st.one_of(st.integers(0, 9999).map(lambda y: f"{y:04d}"), st.sampled_from(["0001", "9999", "99"])))
    month, day = draw(st.integers(0, 13)), draw(st.integers(0, 32))
    hour, minute, second = draw(st.integers(0, 24)), draw(st.integers(0, 60)), draw(st.integers(0, 61))
    frac = draw(st.one_of(st.just(""), st.text("0123456789", min_size=1, max_size=12).map(lambda d: "." + d)))
    sep = draw(st.sampled_from("Tt _"))
    tail = draw(st.sampled_from(["", "", "", "\n", " "]))
    return f"{year}-{month:02d}-{day:02d}{sep}{hour:02d}:{minute:02d}:{second:02d}{frac}{draw(_OFFSETS)}{tail}"


_FIXED_ZONES = st.builds(lambda m: timezone(timedelta(minutes=m)), st.integers(-(24 * 60 - 1), 24 * 60 - 1))

#: Anything a producer might put in a time field.
TIMES = st.one_of(
    st.sampled_from(EDGE_TIMES),
    _assembled_times(),
    st.datetimes(timezones=st.one_of(st.just(UTC), _FIXED_ZONES)).map(datetime.isoformat),
    st.datetimes().map(datetime.isoformat),  # naive
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False),
)

_B64 = st.binary(max_size=20).map(lambda b: base64.b64encode(b).decode())
BASE64_TEXT = st.one_of(
    _B64,
    _B64.map(lambda s: s.rstrip("=")),
    _B64.map(lambda s: s + "\n"),
    _B64.map(lambda s: s.replace("A", "-")),
    st.sampled_from(["=", "==", "A===", "AB=C", "QR==", "AAAA====", "", "AAAA\nAAAA", "ÄAAA"]),
)

_HEX_ALPHABET = "0123456789abcdefABCDEF \n"
HEX_TEXT = st.one_of(
    st.sampled_from(["a" * 64, "A" * 64, "a" * 63, "a" * 65, "a" * 64 + "\n", "g" * 64]),
    st.text(_HEX_ALPHABET, min_size=63, max_size=65),
)

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([0, 1, -1, 2, 60, 61, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63) - 1, 10**30]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 1.0, 1.5, 3.0, 1000.0, 1000.5, 1e300, -1e300, 5e-324, 1e20]),
    st.text(max_size=12),
    st.sampled_from(["", "1", "3.0", "-1", "true", "false", "null", "x" * 128, "x" * 129, "back", "OPEN", "G"]),
)

#: Any JSON value, leaning towards the values type confusion is made of.
JSON_VALUES = st.recursive(
    st.one_of(SCALARS, TIMES, BASE64_TEXT, HEX_TEXT),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def paths(doc: Any) -> list[tuple]:
    """Every path into a parsed JSON document, the root excluded."""
    out: list[tuple] = []

    def walk(node: Any, path: tuple) -> None:
        if path:
            out.append(path)
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, (*path, i))

    walk(doc, ())
    return out


def time_paths(doc: Any) -> list[tuple]:
    """Paths whose value in a valid example is a date-time string."""
    return [p for p in paths(doc) if isinstance(get(doc, p), str) and _TIME.match(get(doc, p))]


def get(doc: Any, path: tuple) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def put(doc: Any, path: tuple, value: Any) -> None:
    get(doc, path[:-1])[path[-1]] = value


@st.composite
def mutated(draw: st.DrawFn, doc: Any, max_mutations: int = 2) -> Any:
    """A valid document with one or two fields replaced (by a value of a wrong
    or edge type), removed, or joined by an unknown field, at any depth. ``doc``
    is changed in place and returned."""
    for _ in range(draw(st.integers(1, max_mutations))):
        everywhere = paths(doc)
        objects = [()] + [p for p in everywhere if isinstance(get(doc, p), dict)]
        op = draw(st.sampled_from(["replace", "replace", "replace", "time", "delete", "extra"]))
        if op == "extra":
            where = draw(st.sampled_from(objects))
            get(doc, where)[draw(st.text(max_size=8))] = draw(JSON_VALUES)
            continue
        if not everywhere:
            continue
        if op == "time":
            where = draw(st.sampled_from(time_paths(doc) or everywhere))
            put(doc, where, draw(TIMES))
            continue
        where = draw(st.sampled_from(everywhere))
        parent = get(doc, where[:-1])
        if op == "delete" and isinstance(parent, dict):
            del parent[where[-1]]
        else:
            put(doc, where, draw(JSON_VALUES))
    return doc
