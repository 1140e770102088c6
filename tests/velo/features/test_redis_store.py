"""The Redis backend against a real redis-server: same features, bounded round trips."""

from __future__ import annotations

import random
import uuid

import numpy as np
import pytest

from velo.data.events import build_events
from velo.features import FeatureEngine, MemoryStore
from velo.features.redis_store import RedisStore
from velo.features.store import Follow, Items, Reads
from velo.sim import SimConfig, simulate
from velo.stack import EmbeddedStack


@pytest.fixture(scope="module")
def events():
    return simulate(SimConfig(seed=5, days=24, n_horses=250)).events()


@pytest.fixture()
def redis_store(stack: EmbeddedStack) -> RedisStore:
    store = RedisStore.from_url(stack.redis.url, prefix=f"test-{uuid.uuid4().hex[:8]}:")
    yield store
    store.clear()


def _feed(engine, events):
    for e in events:
        if e.kind == "card":
            engine.on_card(e.message)
        elif e.kind == "result":
            engine.on_result(e.message)


def test_memory_and_redis_give_identical_features(events, redis_store: RedisStore) -> None:
    mem, red = FeatureEngine(MemoryStore()), FeatureEngine(redis_store)
    shuffled = list(events)
    random.Random(3).shuffle(shuffled)  # out-of-order inserts exercise the slow path too
    _feed(mem, events)
    _feed(red, shuffled)
    for e in events:
        if e.kind == "card":
            a, b = mem.features(e.message), red.features(e.message)
            np.testing.assert_array_equal(a.sqpe, b.sqpe, err_msg=e.key)
            np.testing.assert_array_equal(a.tie, b.tie, err_msg=e.key)


def _round_trips(redis_store: RedisStore, engine: FeatureEngine, card) -> list:
    calls = []
    original = redis_store.client.execute_command

    def counting(*args, **kwargs):
        calls.append(args[0])
        return original(*args, **kwargs)

    redis_store.client.execute_command = counting
    try:
        engine.features(card)
    finally:
        redis_store.client.execute_command = original
    return calls


def test_reading_a_card_is_three_round_trips_with_a_form_book(events, redis_store: RedisStore) -> None:
    """The card's own read (previous jockeys followed on the server), then
    its runners' past race days, then the pars of every race on them."""
    engine = FeatureEngine(redis_store)
    _feed(engine, events)
    card = [e.message for e in events if e.kind == "card"][-1]
    assert len(_round_trips(redis_store, engine, card)) == 3


def test_reading_a_card_is_one_round_trip_without_a_form_book(redis_store: RedisStore) -> None:
    """A source without run times (Betfair) pays nothing for the form book."""
    sim = simulate(SimConfig(seed=5, days=12, n_horses=120))
    sim.canonical["finish_time"] = np.nan
    events = build_events(sim.canonical)
    engine = FeatureEngine(redis_store)
    _feed(engine, events)
    card = [e.message for e in events if e.kind == "card"][-1]
    assert len(_round_trips(redis_store, engine, card)) == 1


def _j(rows: list[tuple[str, float, str, tuple[int, ...]]], payload: bool = False) -> Items:
    return Items.of((k, ts, m, d, {"m": m} if payload else None) for k, ts, m, d in rows)


def _same(a, b) -> bool:
    return (np.array_equal(a.cums, b.cums) and a.cums.dtype == b.cums.dtype == np.int64 and a.lasts == b.lasts
            and np.array_equal(a.followed, b.followed) and np.array_equal(a.followed_ok, b.followed_ok))  # fmt: skip


def test_batches_of_races_in_any_order_give_the_same_features(events, redis_store: RedisStore) -> None:
    """Races applied many to a call, shuffled: a key that several races of
    one call touch, later and earlier than what is stored, and a race sent
    twice, still give the in-order in-process features."""
    cards = {e.key: e.message for e in events if e.kind == "card"}
    pairs = [(cards[e.key], e.message) for e in events if e.kind == "result"]
    mem, red = FeatureEngine(MemoryStore()), FeatureEngine(redis_store)
    mem.apply_results(pairs)
    shuffled = list(pairs)
    random.Random(11).shuffle(shuffled)
    shuffled.insert(5, shuffled[2])
    for start in range(0, len(shuffled), 7):
        red.apply_results(shuffled[start : start + 7])
    for card in cards.values():
        a, b = mem.features(card), red.features(card)
        np.testing.assert_array_equal(a.sqpe, b.sqpe, err_msg=card.race_id)
        np.testing.assert_array_equal(a.tie, b.tie, err_msg=card.race_id)


def test_out_of_order_inserts_and_idempotency(redis_store: RedisStore) -> None:
    mem = MemoryStore()
    rows = [("J:x", ts, f"r{i}", (1, i % 2, 0, 0, 0, 0, 0)) for i, ts in enumerate([30, 10, 20, 10, 40])]
    for i, row in enumerate(rows):
        for store in (mem, redis_store):
            assert store.apply(f"race{i}", _j([row], payload=True)) is True
            assert store.apply(f"race{i}", _j([row], payload=True)) is False
    ts = np.array([5, 10, 11, 25, 35, 100], dtype=float)
    reads = Reads(["J:x"] * 6, ts, ["J:x", "J:x"], np.array([100.0, 11.0]), 3)
    got = redis_store.read(reads)
    assert _same(got, mem.read(reads))
    assert got[0][-1].tolist() == [5, 2, 0, 0, 0, 0, 0]
    # newest first, (time, member) order among equal times
    assert got[1] == [[{"m": "r4"}, {"m": "r0"}, {"m": "r2"}], [{"m": "r3"}, {"m": "r1"}]]


def test_cached_answers_follow_a_late_insert_from_another_process(stack: EmbeddedStack) -> None:
    """Each process caches answers per (key, time). A result that lands before
    a time already read (late, or replayed out of order) must reach every
    reader's next read; one after it must not cost anyone their cache."""
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    reader, writer = RedisStore.from_url(stack.redis.url, prefix), RedisStore.from_url(stack.redis.url, prefix)
    try:
        writer.apply("r1", _j([("J:x", 10.0, "r1", (1, 1, 0, 0, 0, 0, 0))]))
        q = Reads(["J:x"], np.array([100.0]), ["J:x"], np.array([100.0]), 2)
        assert reader.read(q)[0].tolist() == [[1, 1, 0, 0, 0, 0, 0]]
        epoch = reader._epoch
        writer.apply("r2", _j([("J:x", 150.0, "r2", (1, 0, 0, 0, 0, 0, 0))]))  # after every time read
        assert reader.read(q)[0].tolist() == [[1, 1, 0, 0, 0, 0, 0]] and reader._epoch == epoch
        writer.apply("r3", _j([("J:x", 50.0, "r3", (1, 0, 0, 0, 0, 0, 0))]))  # before a time already read
        assert reader.read(q)[0].tolist() == [[2, 1, 0, 0, 0, 0, 0]]
        assert reader._epoch != epoch
        mem = MemoryStore()
        for rid, ts in (("r1", 10.0), ("r2", 150.0), ("r3", 50.0)):
            mem.apply(rid, _j([("J:x", ts, rid, (1, 1 if rid == "r1" else 0, 0, 0, 0, 0, 0))]))
        assert _same(reader.read(q), mem.read(q))
    finally:
        writer.clear()


def test_apply_many_is_in_order_and_idempotent(redis_store: RedisStore) -> None:
    mem = MemoryStore()
    races = [(f"r{i}", _j([("T:x", float(ts), f"r{i}/h", (1, i % 2, 0, 0, 0, 0, 0))])) for i, ts in
             enumerate([30, 10, 20])]  # fmt: skip
    races.append(races[1])  # the same race twice in one call: applied once
    assert redis_store.apply_many(races) == [True, True, True, False] == mem.apply_many(races)
    reads = Reads(["T:x"] * 4, np.array([10, 15, 25, 40], dtype=float))
    assert _same(redis_store.read(reads), mem.read(reads))


def test_a_member_repeated_within_a_race_counts_once(redis_store: RedisStore) -> None:
    """Two runners of one race with the same jockey id: the jockey's ride for
    that race counts once, on either backend (the member is the race)."""
    mem = MemoryStore()
    items = _j([("J:x", 10.0, "r1", (1, 1, 0, 0, 0, 0, 0)), ("J:x", 10.0, "r1", (1, 0, 0, 0, 0, 0, 0)),
                ("T:y", 10.0, "r1/a", (1, 0, 0, 0, 0, 0, 0))])  # fmt: skip
    assert mem.apply("r1", items) and redis_store.apply("r1", items)
    reads = Reads(["J:x", "T:y"], np.array([11.0, 11.0]))
    got = mem.read(reads)
    assert got[0].tolist() == [[1, 1, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0]]
    assert _same(redis_store.read(reads), got)


def test_a_followed_read_answers_what_the_newest_payload_points_at(redis_store: RedisStore) -> None:
    """A horse's last run names its jockey; the same read returns that jockey's
    counters at each offset, unless it is the one to skip or there is no run."""
    mem = MemoryStore()
    races = [
        ("r1", _j([("J:a", 10.0, "r1", (1, 1, 0, 0, 0, 0, 0)), ("J:b", 10.0, "r1", (1, 0, 0, 0, 0, 0, 0))])),
        ("r2", _j([("J:a", 50.0, "r2", (1, 0, 0, 0, 0, 0, 0))])),
        ("r3", Items.of([("H:x", 20.0, "r3", (1,) * 7, {"j": "a"}), ("H:y", 20.0, "r3", (1,) * 7, {"j": "b"}),
                         ("H:z", 20.0, "r3", (1,) * 7, {"j": None})])),
    ]  # fmt: skip
    for race_id, items in races:
        assert mem.apply(race_id, items) and redis_store.apply(race_id, items)
    follow = Follow("j", "J:", ["b", "b", None, None], (0.0, -60.0))
    reads = Reads([], np.empty(0), ["H:x", "H:y", "H:z", "H:none"], np.full(4, 100.0), 2, follow)
    got = mem.read(reads)
    assert got.followed_ok.tolist() == [True, False, False, False]
    assert got.followed[0].tolist() == [[2, 1, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0, 0]]
    assert not got.followed[1:].any()
    assert _same(redis_store.read(reads), got)
