"""Every key the stores write under, and the payloads they keep: one
place that says what each string means, for the code that writes it and
the code that reads it back. Changing a string here changes the stored
layout (see the README's note on upgrading).

Timeline keys name an entity (or a pair) whose history features read; blob
keys name one value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict, cast

import orjson

# -- timeline keys (velo.features) -------------------------------------------
#: Prefix of a jockey's timeline (the store follows a horse's last run to it).
JOCKEY = "J:"


def horse(runner_id: str) -> str:
    return "H:" + runner_id


def horse_at_course(runner_id: str, course: str) -> str:
    return f"HC:{runner_id}|{course}"


def horse_at_distance(runner_id: str, band: int) -> str:
    return f"HD:{runner_id}|{band}"


def draw_at_course(course: str, band: int, draw: int) -> str:
    return f"DB:{course}|{band}|{draw}"


def jockey(jockey_id: str) -> str:
    return JOCKEY + jockey_id


def trainer(trainer_id: str) -> str:
    return "T:" + trainer_id


def trainer_with_jockey(trainer_id: str, jockey_id: str) -> str:
    return f"TJ:{trainer_id}|{jockey_id}"


def par(par_key: str) -> str:
    """A race type's winning times (the speed figures' par)."""
    return f"PAR:{par_key}"


def course_day(course: str) -> str:
    """A course's race days (the daily track variant)."""
    return f"VD:{course}"


# -- blob keys ----------------------------------------------------------------
def card(race_id: str) -> str:
    """A race's card: written when it is remembered for its result, read by the market store too."""
    return f"card:{race_id}"


def waiting_result(race_id: str) -> str:
    """A result that came before its card."""
    return f"result:{race_id}"


def market(race_id: str) -> str:
    return f"market:{race_id}"


def emit_state(race_id: str) -> str:
    return f"emit:{race_id}"


def pending_emissions(race_id: str) -> str:
    return f"emitting:{race_id}"


def logged(race_id: str) -> str:
    """The worker's record of a race's logged predictions, for its outcome rows."""
    return f"logged:{race_id}"


def final(race_id: str) -> str:
    """A race's result, as the worker's ledger keeps it for its outcome rows."""
    return f"final:{race_id}"


# -- a run's payload ------------------------------------------------------------
class FormFields(TypedDict):
    """How the horse ran (the form book; None where the source lacks it)."""

    ft: float | None  # finishing time, seconds
    bl: float | None  # beaten lengths
    ep: float | None  # early position share, 0 = led
    bw: float | None  # body weight


class RunPayload(FormFields):
    """What a horse's timeline keeps of each run (short names: it is stored
    once per run and read for every card the horse runs in)."""

    t: float  # off time, seconds since the epoch
    r: str  # race id
    c: str  # course
    d: int  # distance, metres
    k: float | None  # class on one scale, lower is better
    w: float | None  # weight carried
    g: float | None  # rating
    e: str | None  # gear
    j: str | None  # jockey id
    tr: str | None  # trainer id
    p: int | None  # finishing position, where the whole order is known
    won: int  # 1 if it won
    f: int  # field size
    b: float | None  # share of the field that beat it, 0..1
    m: float | None  # the market's probability (final price)
    pk: str | None  # par key of the race type (None in a run stored before the form book)


class DayPayload(TypedDict):
    """A race in its course's day list (``VD:``), for the daily track variant."""

    k: str  # par key of the race type
    wt: float  # winner's time, seconds
    d: int  # distance, metres
    o: float  # off time, seconds since the epoch


#: Every payload a timeline item can carry.
Payload = RunPayload | DayPayload

#: what a run stored before the form book lacks
_BEFORE_FORM_BOOK = {"ft": None, "bl": None, "ep": None, "bw": None, "pk": None}


def encode_payload(payload: Payload | Mapping[str, Any]) -> bytes:
    """A payload as a shared store keeps it: compact JSON. Floats round-trip
    exactly, so what a read returns equals what the in-process store kept,
    and features agree to the bit across backends."""
    return orjson.dumps(payload)


def decode_run(raw: bytes | Mapping[str, Any]) -> RunPayload:
    """A stored run payload, as today's :class:`RunPayload`: a run stored
    before the form book lacks its fields, and reads them as None."""
    run = orjson.loads(raw) if isinstance(raw, bytes) else raw
    if "ft" in run:
        return cast(RunPayload, run)
    return cast(RunPayload, {**_BEFORE_FORM_BOOK, **run})
