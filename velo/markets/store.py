"""Market state per race, kept in the feature store's blobs.

The state used to live in a Faust table, whose changelog topic cannot be
trusted across a restart of the memory-only embedded broker (the worker died
with "changelog offset beyond the end"). Keeping it beside the features in
Redis gives one source of truth that every worker reads, survives a worker or
broker restart, and needs no Kafka.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import orjson

from schemas import MarketUpdate
from velo.markets.state import RaceMarket


class BlobStore(Protocol):
    def get_blobs(self, keys: Sequence[str]) -> list[bytes | None]: ...

    def put_blobs(self, items: dict[str, bytes]) -> None: ...


def _key(race_id: str) -> str:
    return f"market:{race_id}"


class MarketStore:
    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs

    def get_many(self, race_ids: Sequence[str]) -> list[RaceMarket | None]:
        """Each race's state (None where no update has arrived), one round trip."""
        raws = self.blobs.get_blobs([_key(r) for r in race_ids])
        return [RaceMarket.from_dict(orjson.loads(raw)) if raw else None for raw in raws]

    def apply(self, updates: Sequence[MarketUpdate]) -> None:
        """Fold updates in arrival order; one read and one write for the lot.

        Reapplying an update already folded in leaves the prices as they are
        (RaceMarket ignores older updates), so a redelivered batch is safe.
        """
        if not updates:
            return
        race_ids = list(dict.fromkeys(u.race_id for u in updates))
        states = dict(zip(race_ids, self.get_many(race_ids), strict=True))
        for u in updates:
            state = states[u.race_id]
            if state is None:
                state = states[u.race_id] = RaceMarket(u.race_id)
            state.apply(u)
        self.blobs.put_blobs({_key(r): m.encode() for r, m in states.items() if m is not None})
