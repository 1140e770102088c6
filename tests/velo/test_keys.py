"""velo.keys: the stored layout's strings, and the run payload that records write and the engine reads."""

from __future__ import annotations

from typing import get_type_hints

from velo import keys
from velo.features.records import ride_items
from velo.sim import SimConfig, simulate


def test_the_stored_layout_is_what_earlier_versions_wrote() -> None:
    # a change here is a change of the stored layout: Redis state written before is no longer read
    assert [keys.horse("h"), keys.horse_at_course("h", "C"), keys.horse_at_distance("h", 2)] == [
        "H:h",
        "HC:h|C",
        "HD:h|2",
    ]
    assert [keys.draw_at_course("C", 2, 5), keys.jockey("j"), keys.trainer("t")] == ["DB:C|2|5", "J:j", "T:t"]
    assert [keys.trainer_with_jockey("t", "j"), keys.par("p"), keys.course_day("C")] == ["TJ:t|j", "PAR:p", "VD:C"]
    assert [keys.card("r"), keys.waiting_result("r"), keys.market("r")] == ["card:r", "result:r", "market:r"]
    assert [keys.emit_state("r"), keys.pending_emissions("r"), keys.logged("r")] == ["emit:r", "emitting:r", "logged:r"]
    assert keys.jockey("j").startswith(keys.JOCKEY)


def test_every_run_payload_has_exactly_the_declared_fields() -> None:
    sim = simulate(SimConfig(seed=2, days=6))
    events = sim.events()
    cards = {e.message.race_id: e.message for e in events if e.kind == "card"}
    declared = set(get_type_hints(keys.RunPayload))
    seen = 0
    for e in events:
        if e.kind == "result" and e.message.race_id in cards:
            items = ride_items(cards[e.message.race_id], e.message)
            for i, payload in items.payloads.items():
                if items.keys[i].startswith("H:"):
                    assert set(payload) == declared
                    seen += 1
    assert seen > 0
