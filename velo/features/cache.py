"""Features already computed, reused while they cannot have changed.

A race is predicted again as its market moves and at checkpoints before the
off, with the same card each time. Its features are a pure read of the state
before its cutoff, so they change only if an item lands before a time a read
has already asked about, and then the store's epoch moves on (see
``FeatureStore.seen_epoch``). The cache keeps each card's features with the
epoch it saw *before* computing them: a late item that lands during the
computation moves the epoch past that label, so the entry is never reused
for a state it did not see. A reuse asks the store for its epoch once per
call, one small round trip instead of the three reads and the arithmetic of
a card (measured: most of a re-prediction's own time).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from schemas import RaceCard
from velo.features.engine import FeatureEngine, RaceFeatures


class FeatureCache:
    """Each card's features by ``(race_id, card_key)``, least recently used out first.

    ``card_key`` is anything that tells a changed card from the same card
    again (the worker passes the hash of its bytes)."""

    def __init__(self, engine: FeatureEngine, size: int = 4096) -> None:
        self.engine = engine
        self.size = size
        self._entries: OrderedDict[tuple[str, str], tuple[str, RaceFeatures]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def features(self, cards: Sequence[RaceCard], card_keys: Sequence[str], reuse: bool = True) -> list[RaceFeatures]:
        """:meth:`FeatureEngine.features_many`, with what is still valid taken
        from the cache (``reuse`` False computes every card: a new card's
        first prediction, where a hit is unlikely and the epoch's round trip
        would only add latency). Every result is remembered."""
        keys = [(c.race_id, k) for c, k in zip(cards, card_keys, strict=True)]
        out: list[RaceFeatures | None] = [None] * len(cards)
        if reuse and self._entries:
            held = [self._entries.get(k) for k in keys]
            if any(h is not None for h in held):
                now = self.engine.store.current_epoch()
                for i, h in enumerate(held):
                    if h is not None and h[0] == now:
                        out[i] = h[1]
                        self._entries.move_to_end(keys[i])
        todo = [i for i, f in enumerate(out) if f is None]
        self.hits += len(cards) - len(todo)
        self.misses += len(todo)
        if todo:
            store = self.engine.store
            label = store.seen_epoch() or store.current_epoch()  # "": this process has not read yet
            for i, f in zip(todo, self.engine.features_many([cards[i] for i in todo]), strict=True):
                out[i] = f
                self._entries[keys[i]] = (label, f)
                self._entries.move_to_end(keys[i])
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return out  # type: ignore[return-value]
