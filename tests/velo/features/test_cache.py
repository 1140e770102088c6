"""The features cache: reused while the state cannot have changed, recomputed once it may have."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import numpy as np
import pytest

from velo.features import FeatureEngine, MemoryStore
from velo.features.cache import FeatureCache
from velo.features.records import DAY
from velo.features.redis_store import RedisStore
from velo.features.store import FeatureStore
from velo.sim import SimConfig, simulate
from velo.stack import EmbeddedStack


@pytest.fixture(scope="module")
def events():
    return simulate(SimConfig(seed=11, days=30, n_horses=200)).events()


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[FeatureStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    stack: EmbeddedStack = request.getfixturevalue("stack")
    redis_store = RedisStore.from_url(stack.redis.url, prefix=f"test-{uuid.uuid4().hex[:8]}:")
    yield redis_store
    redis_store.clear()


def _same(a, b) -> None:
    np.testing.assert_array_equal(a.sqpe, b.sqpe)
    np.testing.assert_array_equal(a.tie, b.tie)


def test_reused_until_a_late_result_lands_before_the_cutoff(events, store: FeatureStore) -> None:
    engine = FeatureEngine(store)
    cards = {e.key: e.message for e in events if e.kind == "card"}
    results = [e for e in events if e.kind == "result"]
    last_day = max(c.race.off_time.timestamp() // DAY for c in cards.values())
    today = [c for c in cards.values() if c.race.off_time.timestamp() // DAY == last_day][:4]
    runners = {r.runner_id for c in today for r in c.runners}
    # every race before the last day, in order, except one that today's runners ran in, held back to land late
    late = [e for e in results if e.message.off_time.timestamp() // DAY < last_day
            and runners & {f.runner_id for f in e.message.finishers}][-1]  # fmt: skip
    for e in events:
        if e.kind == "market" or e.time.timestamp() // DAY >= last_day or e is late:
            continue
        if e.kind == "card":
            engine.remember(e.message)
        elif e.kind == "result":
            engine.on_result(e.message)
    n = len(today)
    assert n >= 2
    cache = FeatureCache(engine)
    keys = [f"hash-{c.race_id}" for c in today]
    first = cache.features(today, keys, reuse=False)
    again = cache.features(today, keys)
    assert (cache.hits, cache.misses) == (n, n)
    assert all(a is b for a, b in zip(first, again, strict=True))  # reused, not recomputed
    for f, fresh in zip(again, engine.features_many(today), strict=True):
        _same(f, fresh)
    # today's own results cannot change today's features: still reused
    engine.on_result(next(e for e in results if e.key == today[0].race_id).message)
    cache.features(today[:1], keys[:1])
    assert cache.hits == n + 1
    # a result from before today's cutoff lands late: every entry is recomputed, and right
    engine.on_result(late.message)
    after = cache.features(today, keys)
    assert (cache.hits, cache.misses) == (n + 1, 2 * n)
    for f, fresh in zip(after, engine.features_many(today), strict=True):
        _same(f, fresh)
    changed = [r.runner_id for r in late.message.finishers]
    touched = [i for i, c in enumerate(today) if {r.runner_id for r in c.runners} & set(changed)]
    for i in touched:  # a horse that ran in the late race sees one more run
        assert not np.array_equal(np.nan_to_num(first[i].sqpe), np.nan_to_num(after[i].sqpe))


def test_a_changed_card_is_not_taken_for_the_same_card(events) -> None:
    engine = FeatureEngine(MemoryStore())
    card = next(e.message for e in events if e.kind == "card")
    cache = FeatureCache(engine, size=1)
    cache.features([card], ["a"])
    cache.features([card], ["b"])  # another card for the race: its own entry, the old one evicted
    cache.features([card], ["a"])
    assert (cache.hits, cache.misses) == (0, 3)
