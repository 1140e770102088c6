from __future__ import annotations

from velo.data.events import DECISION_LEAD, build_events
from velo.sim import SimConfig, simulate


def test_event_order_and_price_placement() -> None:
    sim = simulate(SimConfig(seed=3, days=6, n_horses=200))
    events = sim.events()
    assert events == sorted(events)
    by_race: dict[str, list] = {}
    for e in events:
        by_race.setdefault(e.key, []).append(e)
    df = sim.canonical.set_index(["race_id", "runner_id"])
    for race_id, evs in by_race.items():
        kinds = [e.kind for e in evs]
        # the prices, the card, the market suspended at the off, the result
        assert kinds[-3:] == ["card", "market", "result"] and set(kinds[:-3]) == {"market"}
        suspended = evs[-2].message
        assert suspended.status == "SUSPENDED" and suspended.back_price is None
        assert suspended.publish_time == evs[-3].message.race.off_time
        card = next(e for e in evs if e.kind == "card")
        assert card.time == card.message.race.off_time - DECISION_LEAD
        for r in card.message.runners:
            assert r.price == df.loc[(race_id, r.runner_id), "price_pre"]
        result = evs[-1].message
        for f in result.finishers:
            assert f.sp == df.loc[(race_id, f.runner_id), "price_final"]
        assert all(e.time < card.time for e in evs[:-3])


def test_snapshot_updates_when_there_are_no_ticks() -> None:
    sim = simulate(SimConfig(seed=3, days=4, n_horses=200))
    events = build_events(sim.canonical)
    markets = [e for e in events if e.kind == "market" and e.message.status == "OPEN"]
    assert len(markets) == len(sim.canonical)
    assert all(m.message.back_price is not None for m in markets)
    suspended = [e for e in events if e.kind == "market" and e.message.status == "SUSPENDED"]
    assert len(suspended) == sim.canonical["race_id"].nunique()
