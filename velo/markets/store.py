"""Market state per race, kept in the feature store's blobs.

The state used to live in a Faust table, whose changelog topic cannot be
trusted across a restart of the memory-only embedded broker (the worker died
with "changelog offset beyond the end"). Keeping it beside the features in
Redis gives one source of truth that every worker reads, survives a worker or
broker restart, and needs no Kafka.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import orjson

from schemas import MarketUpdate, RaceCard
from velo.markets.repredict import Emission, EmitState
from velo.markets.state import RaceMarket


class BlobStore(Protocol):
    def get_blobs(self, keys: Sequence[str]) -> list[bytes | None]: ...

    def put_blobs(self, items: dict[str, bytes]) -> None: ...

    def delete_blobs(self, keys: Sequence[str]) -> None: ...


def _key(race_id: str) -> str:
    return f"market:{race_id}"


def _emit_key(race_id: str) -> str:
    return f"emit:{race_id}"


def _pending_key(race_id: str) -> str:
    return f"emitting:{race_id}"


def _card_key(race_id: str) -> str:
    return f"card:{race_id}"  # written by FeatureEngine.remember_many and by the card path


@dataclass
class RaceState:
    """A race's market, what it has emitted, and the emissions written but
    not yet known to be published (left by a crash: to be made again)."""

    race_id: str
    market: RaceMarket | None
    emit: EmitState
    pending: list[Emission] = field(default_factory=list)
    card: RaceCard | None = None


class MarketStore:
    #: decoded cards kept, by their bytes (a race's card is read with every
    #: batch of its market updates, and validating it again cost more than
    #: folding them)
    CARD_CACHE = 4096

    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs
        self._cards: dict[bytes, RaceCard] = {}

    def _card(self, raw: bytes) -> RaceCard:
        card = self._cards.get(raw)
        if card is None:
            if len(self._cards) >= self.CARD_CACHE:
                self._cards.clear()
            card = self._cards[raw] = RaceCard.decode(raw)
        return card

    def get_many(self, race_ids: Sequence[str]) -> list[RaceMarket | None]:
        """Each race's state (None where no update has arrived), one round trip."""
        raws = self.blobs.get_blobs([_key(r) for r in race_ids])
        return [RaceMarket.from_dict(orjson.loads(raw)) if raw else None for raw in raws]

    def load(self, race_ids: Sequence[str], cards: bool = True) -> list[RaceState]:
        """Each race's market, emit state, pending emissions and (``cards``)
        card, in one round trip."""
        n = len(race_ids)
        keys = [f(r) for f in (_key, _emit_key, _pending_key) for r in race_ids]
        if cards:
            keys += [_card_key(r) for r in race_ids]
        raws = self.blobs.get_blobs(keys) if race_ids else []
        out = []
        for i, r in enumerate(race_ids):
            market, emit, pending = raws[i], raws[n + i], raws[2 * n + i]
            card = raws[3 * n + i] if cards else None
            out.append(RaceState(
                r, RaceMarket.from_dict(orjson.loads(market)) if market else None,
                EmitState.from_dict(orjson.loads(emit)) if emit else EmitState(),
                [Emission.from_dict(d) for d in orjson.loads(pending)] if pending else [],
                self._card(card) if card else None,
            ))  # fmt: skip
        return out

    def save(self, states: Sequence[RaceState], pending: bool = True, cards: Sequence[RaceCard] = ()) -> None:
        """Markets, emit states, (``pending``) pending emissions and ``cards``
        in one atomic write: a crash leaves all of a batch's state or none."""
        items = {_card_key(c.race_id): c.encode() for c in cards}
        for st in states:
            if st.market is not None:
                items[_key(st.race_id)] = st.market.encode()
            items[_emit_key(st.race_id)] = orjson.dumps(st.emit.to_dict())
            if pending:
                items[_pending_key(st.race_id)] = orjson.dumps([e.to_dict() for e in st.pending])
        self.blobs.put_blobs(items)

    def published(self, done: dict[str, Sequence[int]]) -> None:
        """These races' emissions (by sequence number) are out: forget them,
        and keep any other pending one (a later batch's, still in flight)."""
        races = list(done)
        if not races:
            return
        raws = self.blobs.get_blobs([_pending_key(r) for r in races])
        keep, drop = {}, []
        for race, raw in zip(races, raws, strict=True):
            rest = [d for d in orjson.loads(raw) if d["sequence"] not in set(done[race])] if raw else []
            if rest:
                keep[_pending_key(race)] = orjson.dumps(rest)
            else:
                drop.append(_pending_key(race))
        if keep:
            self.blobs.put_blobs(keep)
        if drop:
            self.blobs.delete_blobs(drop)

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
