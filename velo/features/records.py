"""Turn a (card, result) pair into timeline items, and read them back.

Every count is an integer and every rate is stored in millionths, so the
cumulative sums in the store are exact (see ``velo.features.store``).
"""

from __future__ import annotations

import re
from typing import Any, cast

import numpy as np

from schemas import RaceCard, RaceResult
from velo import keys
from velo.features.formbook import par_key, race_items, run_fields
from velo.features.store import WIDTH, Items
from velo.keys import RunPayload

DAY = 86_400.0
MICRO = 1_000_000
# Delta vector layout.
N, WINS, POS_N, PLACES, BEATEN_U, MKT_N, EXCESS_U = range(7)

_GROUP = re.compile(r"^(?:G|GRP|GROUP)\s*([123])$", re.IGNORECASE)
_NUM = re.compile(r"(\d+(?:\.\d+)?)")
_GOING = {
    "FIRM": 0, "GOOD TO FIRM": 1, "GOOD": 2, "GOOD TO YIELDING": 3, "YIELDING": 4, "YIELDING TO SOFT": 4.5,
    "SOFT": 5, "HEAVY": 6, "FAST": 1, "WET FAST": 2, "WET SLOW": 4, "SLOW": 5, "MUDDY": 5, "SLOPPY": 6,
}  # fmt: skip


def class_num(race_class: str | None) -> float | None:
    """Class on one numeric scale, lower = better. None if it cannot be read."""
    if not race_class:
        return None
    s = race_class.strip()
    m = _GROUP.match(s)
    if m:
        return float(int(m.group(1)) - 3)
    if s.upper() in {"L", "LISTED", "LR"}:
        return 0.5
    if s.upper().startswith("BM"):
        m = _NUM.search(s)
        return (100.0 - float(m.group(1))) / 10.0 if m else None
    m = _NUM.search(s)
    return float(m.group(1)) if m else None


def going_code(going: str | None) -> float | None:
    return _GOING.get(going.strip().upper()) if going else None


def distance_band(distance_m: int) -> int:
    for i, edge in enumerate((1200, 1400, 1700, 2000)):
        if distance_m < edge:
            return i
    return 4


def cutoff_ts(off_ts: float) -> float:
    """Features of a race see results of races that went off before the start
    of its UTC day. Same-day results are never used, so the stream and an
    offline replay agree as long as a day's results arrive before the next
    day's cards, whatever the order inside a day."""
    return (off_ts // DAY) * DAY


def ride_items(card: RaceCard, result: RaceResult) -> Items:
    """Timeline items for every runner that started in this race, as columns.

    Every item of a runner shares its delta; the horse's own item carries the
    run's payload (what the form features read back)."""
    race = card.race
    ts = race.off_time.timestamp()
    by_id = {r.runner_id: r for r in card.runners}
    ran = [f for f in result.finishers if f.runner_id in by_id]
    field = len(ran)
    known = [f for f in ran if f.position is not None]
    full_order = field >= 2 and len(known) >= min(3, field)
    p_mkt: dict[str, float] = {}
    if ran and all(f.sp for f in ran):
        total = sum(1.0 / cast(float, f.sp) for f in ran)  # every sp is set (checked just above)
        p_mkt = {f.runner_id: (1.0 / cast(float, f.sp)) / total for f in ran}
    cls = class_num(race.race_class)
    band = distance_band(race.distance_m)
    pk = par_key(card)
    race_id, course = race.race_id, race.course
    named: list[str] = []
    members: list[str] = []
    payloads: dict[int, dict[str, Any]] = {}
    deltas: list[tuple[int, ...]] = []
    counts: list[int] = []
    for f in ran:
        r = by_id[f.runner_id]
        rid, jid, tid = r.runner_id, r.jockey_id, r.trainer_id
        won = 1 if f.position == 1 else 0
        pos = f.position if full_order else None
        beaten = min(1.0, (pos - 1) / (field - 1)) if pos is not None and field > 1 else None
        pm = p_mkt.get(f.runner_id)
        deltas.append(
            (
                1,
                won,
                1 if beaten is not None else 0,
                1 if pos is not None and pos <= 3 else 0,
                round(beaten * MICRO) if beaten is not None else 0,
                1 if pm is not None else 0,
                round((won - pm) * MICRO) if pm is not None else 0,
            )
        )
        run: RunPayload = {
            "t": ts,
            "r": race_id,
            "c": course,
            "d": race.distance_m,
            "k": cls,
            "w": r.weight_carried,
            "g": r.rating,
            "e": r.gear,
            "j": jid,
            "tr": tid,
            "p": pos,
            "won": won,
            "f": field,
            "b": beaten,
            "m": pm,
            "pk": pk,
            **run_fields(f, r.body_weight, field),
        }
        payloads[len(named)] = cast("dict[str, Any]", run)  # stored as it is: a TypedDict is a dict
        member = f"{race_id}/{rid}"
        before = len(named)
        named += (keys.horse(rid), keys.horse_at_course(rid, course), keys.horse_at_distance(rid, band))
        members += (race_id, race_id, race_id)
        if r.draw is not None:
            named.append(keys.draw_at_course(course, band, r.draw))
            members.append(member)
        if jid:
            named.append(keys.jockey(jid))
            members.append(race_id)
        if tid:
            named.append(keys.trainer(tid))
            members.append(member)
        if jid and tid:
            named.append(keys.trainer_with_jockey(tid, jid))
            members.append(member)
        counts.append(len(named) - before)
    delta = np.repeat(np.array(deltas, dtype=np.int64).reshape(len(deltas), WIDTH), counts, axis=0)
    extra = race_items(card, result) if ran else []
    for key, member, _, payload in extra:
        if payload is not None:
            payloads[len(named)] = cast("dict[str, Any]", payload)
        named.append(key)
        members.append(member)
    if extra:
        delta = np.vstack([delta, np.array([d for _, _, d, _ in extra], dtype=np.int64)])
    return Items(named, np.full(len(named), ts), members, delta, payloads)
