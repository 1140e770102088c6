"""Market state per race, kept in the feature store's blobs.

The state used to live in a Faust table, whose changelog topic cannot be
trusted across a restart of the memory-only embedded broker (the worker died
with "changelog offset beyond the end"). Keeping it beside the features in
Redis gives one source of truth that every worker reads, survives a worker or
broker restart, and needs no Kafka.
"""

from __future__ import annotations

import dataclasses
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


def _copied(st: RaceState) -> RaceState:
    """A copy the caller may change (emissions and cards are never changed)."""
    e = st.emit
    emit = dataclasses.replace(e, probs=None if e.probs is None else list(e.probs))
    return RaceState(st.race_id, None if st.market is None else st.market.copy(), emit, list(st.pending), st.card)


class MarketStore:
    #: decoded cards kept, by their bytes (a race's card is read with every
    #: batch of its market updates, and validating it again cost more than
    #: folding them)
    CARD_CACHE = 4096

    #: races whose last saved state this process keeps (see :meth:`load`)
    STATE_CACHE = 20_000

    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs
        self._cards: dict[bytes, RaceCard] = {}
        self._states: dict[str, RaceState] = {}

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
        card, in one round trip.

        A race's state is written only by the worker that owns its partition,
        so what this process last saved is what Redis holds, and it is
        answered from memory (a copy: the caller changes it). Reading and
        decoding the markets again was most of a market batch's cost. The
        worker calls :meth:`forget` whenever its partitions change hands.
        """
        cached = {r: _copied(self._states[r]) for r in race_ids if r in self._states}
        if cached:
            rest = [r for r in race_ids if r not in cached]
            loaded = dict(zip(rest, self._load(rest, cards), strict=True)) if rest else {}
            return [cached[r] if r in cached else loaded[r] for r in race_ids]
        return self._load(race_ids, cards)

    def forget(self) -> None:
        """Drop the states kept in memory (the partitions moved)."""
        self._states = {}

    def _load(self, race_ids: Sequence[str], cards: bool) -> list[RaceState]:
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
        # kept only once written; a save without its pending emissions (the
        # card path) or with a new card leaves the race to be read again
        if len(self._states) + len(states) > self.STATE_CACHE:
            self._states = {}
        for st in states:
            if pending and not cards:
                self._states[st.race_id] = _copied(st)
            else:
                self._states.pop(st.race_id, None)
        for c in cards:
            self._states.pop(c.race_id, None)

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
        for race in races:
            st = self._states.get(race)
            if st is not None:
                st.pending = [e for e in st.pending if e.sequence not in set(done[race])]

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
