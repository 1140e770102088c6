"""Point-in-time guarantees of the feature engine, on the in-process store."""

from __future__ import annotations

import random

import numpy as np
import pytest

from velo.data.events import Event
from velo.features import SQPE_FEATURES, TIE_FEATURES, FeatureEngine, MemoryStore
from velo.features.offline import build_training_set, replay
from velo.features.store import Items, Reads
from velo.sim import SimConfig, simulate


@pytest.fixture(scope="module")
def sim_events() -> list[Event]:
    return simulate(SimConfig(seed=11, days=40, n_horses=300)).events()


def _all_features(engine: FeatureEngine, events: list[Event]) -> dict[str, np.ndarray]:
    cards = {e.key: e.message for e in events if e.kind == "card"}
    out = {}
    for race_id, card in cards.items():
        f = engine.features(card)
        out[race_id] = np.hstack([f.sqpe, f.tie])
    return out


def _feed(engine: FeatureEngine, events: list[Event]) -> None:
    for e in events:
        if e.kind == "card":
            engine.on_card(e.message)
        elif e.kind == "result":
            engine.on_result(e.message)


def test_feature_counts() -> None:
    assert len(SQPE_FEATURES) == 50 and len(TIE_FEATURES) == 7
    assert len(set(SQPE_FEATURES + TIE_FEATURES)) == 57


def test_shuffled_arrival_gives_identical_features(sim_events: list[Event]) -> None:
    reference = FeatureEngine(MemoryStore())
    _feed(reference, sim_events)
    expected = _all_features(reference, sim_events)
    for name in ("career_starts", "speed_best3", "lengths_mean3", "pace_pressure", "body_weight_change"):
        assert any(np.nanmax(np.abs(v[:, SQPE_FEATURES.index(name)]), initial=0) > 0 for v in expected.values()), name
    for seed in range(8):
        shuffled = list(sim_events)
        random.Random(seed).shuffle(shuffled)
        engine = FeatureEngine(MemoryStore())
        _feed(engine, shuffled)
        got = _all_features(engine, shuffled)
        assert got.keys() == expected.keys()
        for race_id, arr in expected.items():
            np.testing.assert_array_equal(got[race_id], arr, err_msg=f"seed {seed} race {race_id}")


def test_own_and_later_results_never_reach_a_race(sim_events: list[Event]) -> None:
    """Features of a race are the same with or without its own (and all later) results."""
    cards = [e for e in sim_events if e.kind == "card"]
    target = cards[len(cards) // 2].message
    full = FeatureEngine(MemoryStore())
    _feed(full, sim_events)
    cut = FeatureEngine(MemoryStore())
    _feed(cut, [e for e in sim_events if e.kind != "result" or e.message.off_time < target.race.off_time])
    a, b = full.features(target), cut.features(target)
    np.testing.assert_array_equal(a.sqpe, b.sqpe)
    np.testing.assert_array_equal(a.tie, b.tie)


def test_same_day_results_are_not_used(sim_events: list[Event]) -> None:
    cards = [e.message for e in sim_events if e.kind == "card"]
    first, second = cards[0], cards[1]
    assert first.race.off_time.date() == second.race.off_time.date()
    engine = FeatureEngine(MemoryStore())
    before = engine.on_card(second)
    engine.on_card(first)
    engine.on_result(next(e.message for e in sim_events if e.kind == "result" and e.key == first.race_id))
    np.testing.assert_array_equal(engine.features(second).sqpe, before.sqpe)


def test_applying_a_result_twice_counts_once(sim_events: list[Event]) -> None:
    once, twice = FeatureEngine(MemoryStore()), FeatureEngine(MemoryStore())
    _feed(once, sim_events)
    doubled = []
    for e in sim_events:
        doubled.append(e)
        if e.kind in ("result", "card"):
            doubled.append(e)  # at-least-once redelivery
    _feed(twice, doubled)
    a, b = _all_features(once, sim_events), _all_features(twice, sim_events)
    for race_id in a:
        np.testing.assert_array_equal(a[race_id], b[race_id])
    result = next(e.message for e in sim_events if e.kind == "result")
    assert twice.on_result(result) is False


def test_result_before_card_is_applied_when_the_card_arrives(sim_events: list[Event]) -> None:
    card = next(e.message for e in sim_events if e.kind == "card")
    result = next(e.message for e in sim_events if e.kind == "result" and e.key == card.race_id)
    store = MemoryStore()
    engine = FeatureEngine(store)
    assert engine.on_result(result) is False
    engine.on_card(card)
    assert store.apply(card.race_id, Items.of([])) is False, "the pending result should have been applied"


def test_offline_training_set_equals_the_stream_path(sim_events: list[Event]) -> None:
    offline = build_training_set(sim_events)
    streamed = replay(sim_events, FeatureEngine(MemoryStore()))
    stream_rows = np.vstack([np.hstack([f.sqpe, f.tie]) for f in streamed])
    np.testing.assert_array_equal(offline[SQPE_FEATURES + TIE_FEATURES].to_numpy(), stream_rows)
    assert offline["won"].sum() == sum(1 for e in sim_events if e.kind == "result")


def _on_arrival(events: list[Event]) -> list[np.ndarray]:
    """Each card's features as the stream computes them: one card at a time, on arrival."""
    engine, out = FeatureEngine(MemoryStore()), []
    for e in events:
        if e.kind == "card":
            f = engine.on_card(e.message)
            out.append(np.hstack([f.sqpe, f.tie]))
        elif e.kind == "result":
            engine.on_result(e.message)
    return out


@pytest.mark.parametrize("seed", range(4))
def test_batched_replay_equals_the_stream_in_any_arrival_order(sim_events: list[Event], seed: int) -> None:
    """The offline replay computes many cards in one read and applies results as
    they come; a result arriving after a card that could see it must still be
    left out of that card, exactly as the stream leaves it out."""
    events = list(sim_events)
    rng = random.Random(seed)
    for _ in range(len(events) // 4):  # move a quarter of the events somewhere else
        events.insert(rng.randrange(len(events)), events.pop(rng.randrange(len(events))))
    expected = _on_arrival(events)
    for batch in (True, False):
        got = [np.hstack([f.sqpe, f.tie]) for f in replay(events, FeatureEngine(MemoryStore()), batch=batch)]
        assert len(got) == len(expected)
        for a, b in zip(got, expected, strict=True):
            np.testing.assert_array_equal(a, b)


def test_memory_store_answers_inside_and_after_a_keys_history_alike() -> None:
    """Queries after a key's latest item are served from its running total,
    those inside its history from sorted runs; both must be the plain sum."""
    rng = random.Random(1)
    rows = [
        (f"K:{rng.randrange(20)}", float(rng.randrange(1000)), f"m{i}", tuple(rng.randrange(-5, 9) for _ in range(7)))
        for i in range(3000)
    ]
    store = MemoryStore()
    for start in range(0, len(rows), 250):  # several reads in between: several runs, merged
        chunk = rows[start : start + 250]
        store.apply(f"race{start}", Items.of((k, t, m, d, None) for k, t, m, d in chunk))
        keys = [f"K:{i}" for i in range(22)] * 3
        ts = np.array([rng.uniform(-10, 1100) for _ in keys])
        got = store.read(Reads(keys, ts)).cums
        seen = rows[: start + 250]
        want = [
            [sum(d[j] for k2, t2, _, d in seen if k2 == k and t2 < t) for j in range(7)]
            for k, t in zip(keys, ts, strict=True)
        ]
        assert got.tolist() == want
