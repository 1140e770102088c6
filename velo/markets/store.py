"""Market state per race, kept in the feature store's blobs.

The state used to live in a Faust table, whose changelog topic cannot be
trusted across a restart of the memory-only embedded broker (the worker died
with "changelog offset beyond the end"). Keeping it beside the features in
Redis gives one source of truth that every worker reads, survives a worker or
broker restart, and needs no Kafka.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import orjson

from schemas import MarketUpdate, RaceCard
from velo import keys
from velo.markets.repredict import Emission, EmitState
from velo.markets.state import RaceMarket


class BlobStore(Protocol):
    def get_blobs(self, keys: Sequence[str]) -> list[bytes | None]: ...

    def put_blobs(self, items: dict[str, bytes]) -> None: ...

    def delete_blobs(self, keys: Sequence[str]) -> None: ...


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

    def __init__(self, blobs: BlobStore, write_behind: bool = False) -> None:
        """``write_behind``: a save that carries no pending emission stays in
        memory until :meth:`flush` (the worker flushes every few ms and
        acknowledges a batch only after the flush that covers it). Writing
        each batch's markets through was most of a market batch's cost live,
        where a batch holds a handful of updates."""
        self.blobs = blobs
        self.write_behind = write_behind
        self._cards: dict[bytes, RaceCard] = {}
        self._states: dict[str, RaceState] = {}
        #: races whose state in :attr:`_states` is newer than Redis's
        self._dirty: set[str] = set()

    def _card(self, raw: bytes) -> RaceCard:
        card = self._cards.get(raw)
        if card is None:
            if len(self._cards) >= self.CARD_CACHE:
                self._cards.clear()
            card = self._cards[raw] = RaceCard.decode(raw)
        return card

    def get_many(self, race_ids: Sequence[str]) -> list[RaceMarket | None]:
        """Each race's state (None where no update has arrived), one round trip
        (none for a race whose state this process holds)."""
        held = {r: self._states[r].market for r in race_ids if r in self._states}
        rest = [r for r in race_ids if r not in held]
        raws = dict(zip(rest, self.blobs.get_blobs([keys.market(r) for r in rest]), strict=True)) if rest else {}
        out = []
        for r in race_ids:
            if r in held:
                market = held[r]
                out.append(None if market is None else market.copy())
            else:
                raw = raws[r]
                out.append(RaceMarket.from_dict(orjson.loads(raw)) if raw else None)
        return out

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
        """Write what is held back, then drop the states kept in memory (the
        partitions moved: the next owner reads Redis)."""
        self.flush()
        self._states = {}

    @property
    def unflushed(self) -> bool:
        """Some saved state is in memory only (see ``write_behind``)."""
        return bool(self._dirty)

    def flush(self) -> None:
        """Write every state held back, in one atomic write. On a failure
        they stay held, to be written by the next flush or save."""
        if self._dirty:
            self.blobs.put_blobs(self._items([self._states[r] for r in self._dirty], True))
            self._dirty = set()

    @staticmethod
    def _items(states: Sequence[RaceState], pending: bool) -> dict[str, bytes]:
        items = {}
        for st in states:
            if st.market is not None:
                items[keys.market(st.race_id)] = st.market.encode()
            items[keys.emit_state(st.race_id)] = orjson.dumps(st.emit.to_dict())
            if pending:
                items[keys.pending_emissions(st.race_id)] = orjson.dumps([e.to_dict() for e in st.pending])
        return items

    def _load(self, race_ids: Sequence[str], cards: bool) -> list[RaceState]:
        n = len(race_ids)
        wanted = [f(r) for f in (keys.market, keys.emit_state, keys.pending_emissions) for r in race_ids]
        if cards:
            wanted += [keys.card(r) for r in race_ids]
        raws = self.blobs.get_blobs(wanted) if race_ids else []
        out = []
        for i, r in enumerate(race_ids):
            market, emit, pending = raws[i], raws[n + i], raws[2 * n + i]
            card = raws[3 * n + i] if cards else None
            out.append(
                RaceState(
                    r,
                    RaceMarket.from_dict(orjson.loads(market)) if market else None,
                    EmitState.from_dict(orjson.loads(emit)) if emit else EmitState(),
                    [Emission.from_dict(d) for d in orjson.loads(pending)] if pending else [],
                    self._card(card) if card else None,
                )
            )
        return out

    def save(
        self,
        states: Sequence[RaceState],
        pending: bool = True,
        cards: Sequence[RaceCard] = (),
        card_wires: Sequence[bytes] | None = None,
    ) -> None:
        """Markets, emit states, (``pending``) pending emissions and ``cards``
        in one atomic write: a crash leaves all of a batch's state or none.
        ``card_wires``: the cards' bytes, where the caller has encoded them.

        With ``write_behind``, a save of markets alone (no card, no pending
        emission: nothing will be published from it) is only kept in memory;
        any other save writes whatever is held back with it.
        """
        if (
            self.write_behind
            and pending
            and not cards
            and not any(st.pending for st in states)
            and len(self._states) + len(states) <= self.STATE_CACHE
        ):
            for st in states:  # kept as given: the caller does not change a state once saved
                self._states[st.race_id] = st
                self._dirty.add(st.race_id)
            return
        fresh = {st.race_id for st in states}
        held = [self._states[r] for r in self._dirty if r not in fresh]
        items = self._items(held, True)
        wires = [c.encode() for c in cards] if card_wires is None else card_wires
        items.update({keys.card(c.race_id): w for c, w in zip(cards, wires, strict=True)})
        items.update(self._items(states, pending))
        self.blobs.put_blobs(items)
        self._dirty = set()
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

    def published(self, done: Mapping[str, Sequence[int]]) -> None:
        """These races' emissions (by sequence number) are out: forget them,
        and keep any other pending one (a later batch's, still in flight)."""
        races = list(done)
        if not races:
            return
        raws = self.blobs.get_blobs([keys.pending_emissions(r) for r in races])
        keep, drop = {}, []
        for race, raw in zip(races, raws, strict=True):
            rest = [d for d in orjson.loads(raw) if d["sequence"] not in set(done[race])] if raw else []
            if rest:
                keep[keys.pending_emissions(race)] = orjson.dumps(rest)
            else:
                drop.append(keys.pending_emissions(race))
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
        self.blobs.put_blobs({keys.market(r): m.encode() for r, m in states.items() if m is not None})
