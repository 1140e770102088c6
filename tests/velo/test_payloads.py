"""velo.keys' payload types: what records write, the stores keep and the engine reads."""

from __future__ import annotations

from typing import get_type_hints

import orjson

from velo import keys
from velo.features.formbook import _form_fields
from velo.features.records import ride_items
from velo.sim import SimConfig, simulate


def _items():
    sim = simulate(SimConfig(seed=3, days=8))
    events = sim.events()
    cards = {e.message.race_id: e.message for e in events if e.kind == "card"}
    for e in events:
        if e.kind == "result" and e.message.race_id in cards:
            yield ride_items(cards[e.message.race_id], e.message)


def test_every_payload_is_a_run_or_a_day_and_round_trips_exactly() -> None:
    runs, days = set(get_type_hints(keys.RunPayload)), set(get_type_hints(keys.DayPayload))
    kinds = {"run": 0, "day": 0}
    for items in _items():
        for i, payload in items.payloads.items():
            kind = "run" if items.keys[i].startswith("H:") else "day"
            assert set(payload) == (runs if kind == "run" else days), items.keys[i]
            kinds[kind] += 1
            assert orjson.loads(keys.encode_payload(payload)) == payload  # a NaN would come back None
    assert kinds["run"] > 0 and kinds["day"] > 0


def test_a_run_stored_before_the_form_book_reads_its_fields_as_none() -> None:
    old = {"t": 1.0, "r": "r1", "c": "ST", "d": 1200, "won": 0, "f": 12}
    run = keys.decode_run(orjson.dumps(old))
    assert (run["ft"], run["bl"], run["ep"], run["bw"]) == (None, None, None, None)
    assert run["r"] == "r1"
    assert _form_fields(old) == (None, None, None, None, None)
    new = {**old, "ft": 70.1, "bl": 2.5, "ep": 0.0, "bw": 1100.0, "pk": "ST|turf|1200|4"}
    assert keys.decode_run(new) is new  # today's payload: no copy
    assert _form_fields(new) == (70.1, "ST|turf|1200|4", 2.5, 0.0, 1100.0)
