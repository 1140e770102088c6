"""A dead letter always fits under the producer's request limit.

An invalid message of about 800 KB once became a dead letter over aiokafka's
1 MiB ``max_request_size`` (base64 grows it by a third) and the send failed.
"""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import DeadLetter
from schemas.dead_letter import DEFAULT_MAX_BYTES, ERROR_MAX_CHARS

PRODUCER_LIMIT = 1_048_576  # aiokafka's default max_request_size
NOW = datetime(2025, 3, 8, 5, 30, tzinfo=UTC)


def _build(value: bytes | None, **kw: object) -> DeadLetter:
    args: dict = {"key": b"ST-R8", "headers": [("trace", b"\x01\x02")], "source_topic": "race-cards",
                  "source_partition": 3, "source_offset": 99, "error": "invalid RaceCard: race: required",
                  "time": NOW} | kw  # fmt: skip
    return DeadLetter.build(value=value, **args)


def test_a_small_message_is_kept_whole_with_key_headers_size_and_digest() -> None:
    value = b'{"race": 1}\xff'
    dl = _build(value)
    assert (dl.original, dl.key, dl.headers) == (value, b"ST-R8", [("trace", b"\x01\x02")])
    assert dl.original_size == len(value) and dl.original_sha256 == hashlib.sha256(value).hexdigest()
    assert dl.truncated is False
    wire = orjson.loads(dl.encode())
    assert wire["key"] == "U1QtUjg=" and wire["headers"] == [["trace", "AQI="]]
    assert DeadLetter.decode(dl.encode()) == dl


def test_an_800_kb_message_fits_under_the_producer_limit() -> None:
    value = random.Random(1).randbytes(800_000)
    assert len(DeadLetter(original=value, source_topic="t", source_partition=0, source_offset=0, error="x",
                          time=NOW).encode()) > PRODUCER_LIMIT  # fmt: skip  # what the worker used to send
    dl = _build(value)
    data = dl.encode()
    assert len(data) <= DEFAULT_MAX_BYTES < PRODUCER_LIMIT
    assert dl.truncated and value.startswith(dl.original) and len(dl.original) > 600_000
    assert dl.original_size == 800_000 and dl.original_sha256 == hashlib.sha256(value).hexdigest()
    assert len(data) + 4 > DEFAULT_MAX_BYTES, "three more bytes of the original would still have fitted"
    assert DeadLetter.decode(data) == dl


def test_error_text_is_capped_and_always_encodable() -> None:
    dl = _build(b"x", error="e" * 10_000 + "\ud800")
    assert dl.error == "e" * ERROR_MAX_CHARS
    dl = _build(b"x", error="bad \ud800 text")
    assert DeadLetter.decode(dl.encode()).error == "bad \\ud800 text"


def test_a_tombstone_is_kept_as_empty_bytes() -> None:
    dl = _build(None, key=None, headers=[])
    assert (dl.original, dl.key, dl.headers, dl.original_size, dl.truncated) == (b"", None, [], 0, False)
    assert DeadLetter.decode(dl.encode()) == dl


def test_when_key_and_headers_are_too_large_the_error_is_cut_first() -> None:
    dl = _build(b"payload", key=b"k" * 11_000, headers=[], error="why " * 500, max_bytes=16_384)
    assert len(dl.encode()) <= 16_384 and dl.key == b"k" * 11_000
    assert dl.original == b"" and dl.truncated and 0 < len(dl.error) < 2000


def test_at_the_edge_headers_then_the_key_are_dropped_with_a_note() -> None:
    dl = _build(b"payload", key=b"k", headers=[("big", b"h" * 20_000)], max_bytes=16_384)
    assert len(dl.encode()) <= 16_384 and dl.key == b"k" and dl.headers == [] and dl.truncated
    assert dl.error.startswith("[dead letter: headers dropped, 20003 bytes] invalid RaceCard")
    assert dl.original == b"payload"
    dl = _build(b"payload", key=b"k" * 20_000, headers=[("big", b"h")], max_bytes=16_384)
    assert len(dl.encode()) <= 16_384 and dl.key is None and dl.headers == [] and dl.truncated
    assert dl.error.startswith("[dead letter: key and headers dropped, 20000 + 4 bytes]")


def test_a_budget_below_an_empty_dead_letter_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="smaller than the smallest dead letter"):
        _build(b"x", max_bytes=100)


def test_dead_letters_written_before_the_new_fields_still_decode() -> None:
    old = {"schema_version": 1, "original": "e30=", "source_topic": "race-cards", "source_partition": 2,
           "source_offset": 41, "error": "bad", "time": "2025-03-08T05:30:00Z"}  # fmt: skip
    dl = DeadLetter.decode(orjson.dumps(old))
    assert (dl.original, dl.key, dl.headers, dl.original_size, dl.original_sha256, dl.truncated) == (
        b"{}", None, [], None, None, False)  # fmt: skip


_HEADERS = st.lists(st.tuples(st.text(max_size=10), st.one_of(st.none(), st.binary(max_size=50))), max_size=4)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    data=st.data(),
    rnd=st.randoms(use_true_random=False),
    key=st.one_of(st.none(), st.binary(max_size=200)),
    headers=_HEADERS,
    error=st.one_of(st.text(max_size=3_000), st.text(st.sampled_from('\x00\n"\\é😀a'), max_size=3_000)),
    max_bytes=st.one_of(st.just(DEFAULT_MAX_BYTES), st.integers(16_384, 1_100_000), st.integers(2_000, 20_000)),
)
def test_every_dead_letter_fits(data: st.DataObject, rnd: random.Random, key: bytes | None, headers: list,
                                error: str, max_bytes: int) -> None:  # fmt: skip
    how = data.draw(st.sampled_from(["uniform", "small", "near the budget"]))
    if how == "uniform":  # hypothesis leans to small integers; sizes up to 3 MB need a flat draw
        size = rnd.randint(0, 3_000_000)
    elif how == "small":
        size = data.draw(st.integers(0, 20_000))
    else:  # where the whole message just fits, or just does not
        size = max(0, max_bytes * 3 // 4 + data.draw(st.integers(-2_000, 200)))
    value = rnd.randbytes(size)  # random bytes: almost never valid UTF-8
    dl = _build(value, key=key, headers=headers, error=error, max_bytes=max_bytes)
    encoded = dl.encode()
    assert len(encoded) <= max_bytes
    assert DeadLetter.decode(encoded) == dl
    # key and headers here are small beside the budget: always kept
    assert dl.key == key and dl.headers == list(headers)
    assert value.startswith(dl.original) and dl.original_size == size
    assert dl.original_sha256 == hashlib.sha256(value).hexdigest()
    assert dl.truncated == (len(dl.original) < size)
    assert error[:ERROR_MAX_CHARS].startswith(dl.error)
    if dl.error != error[:ERROR_MAX_CHARS]:  # the error is cut only when no byte of the original fits
        assert dl.original == b"" and len(encoded) + 6 > max_bytes  # a character is at most 6 bytes of JSON
    elif dl.truncated:  # the longest prefix that fits: one more base64 quantum would not
        assert len(dl.original) == size - 1 or len(encoded) + 4 > max_bytes
