"""The Redis backend against a real redis-server: same features, bounded round trips."""

from __future__ import annotations

import random
import uuid

import numpy as np
import pytest

from velo.features import FeatureEngine, MemoryStore
from velo.features.redis_store import RedisStore
from velo.features.store import CumBefore, Insert, LastBefore
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


def test_reading_a_card_is_bounded_round_trips(events, redis_store: RedisStore) -> None:
    engine = FeatureEngine(redis_store)
    _feed(engine, events)
    card = [e.message for e in events if e.kind == "card"][-1]
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
    assert len(calls) <= 2, calls


def test_out_of_order_inserts_and_idempotency(redis_store: RedisStore) -> None:
    mem = MemoryStore()
    items = [Insert("J:x", ts, f"r{i}", (1, i % 2, 0, 0, 0, 0, 0)) for i, ts in enumerate([30, 10, 20, 10, 40])]
    for i, it in enumerate(items):
        for store in (mem, redis_store):
            assert store.apply(f"race{i}", [it]) is True
            assert store.apply(f"race{i}", [it]) is False
    queries = [CumBefore("J:x", t) for t in (5, 10, 11, 25, 35, 100)] + [LastBefore("J:x", 100, 3)]
    assert redis_store.read(queries) == mem.read(queries)
    assert mem.read([CumBefore("J:x", 100)])[0] == (5, 2, 0, 0, 0, 0, 0)
