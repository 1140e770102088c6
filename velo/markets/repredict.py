"""When a race is predicted again: material market moves and checkpoints before the off.

A card is published long before its race; its market forms later and moves
until the jump. The worker therefore predicts a race again when its market
moves materially, and at checkpoints before the off (by default T-10 min,
T-2 min and the decision time, T-60 s). The prediction at the last checkpoint
is *final*: it is the one made at decision-time prices, the only one that
carries stakes, and no prediction for the race follows it.

Everything here runs on a race's own event time: the ``publish_time`` of its
market updates, folded in the order they arrive on the race's partition. A
checkpoint fires just before the first update later than it is folded (an
exchange suspends every runner at the off, so one always comes), so its
prediction uses exactly the updates up to the checkpoint, whatever the
batching, the worker or a redelivery. Live, a wall-clock tick fires
checkpoints of races whose market has gone quiet (:meth:`RaceEmitter.tick`).

This module is the one implementation: the worker's service and the offline
backtest both drive :class:`RaceEmitter`, so they make the same predictions
from the same events.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from schemas import MarketUpdate, RaceCard
from velo.markets.prices import market_prices
from velo.markets.state import RaceMarket

Trigger = Literal["card", "market", "checkpoint"]


@dataclass(frozen=True)
class RepredictPolicy:
    """The settings of re-prediction (``VELO_REPREDICT_*``).

    ``threshold``: a move is material when any runner's market probability,
    or the book (the sum of implied probabilities), changed by more than this
    since the race's last prediction. ``debounce_s``: at most one market-moved
    prediction per race per this many seconds of event time (checkpoints are
    never held back). ``checkpoints_s``: leads before the off, in any order;
    the smallest is the decision time. ``enabled`` False gives the old
    behaviour: one prediction per card, final and staked.
    """

    threshold: float = 0.02
    debounce_s: float = 5.0
    checkpoints_s: tuple[float, ...] = (600.0, 120.0, 60.0)
    enabled: bool = True

    def __post_init__(self) -> None:
        if not self.checkpoints_s:
            raise ValueError("re-prediction needs at least one checkpoint (the decision time)")
        if any(not math.isfinite(c) or c < 0 for c in self.checkpoints_s):
            raise ValueError(f"checkpoints must be seconds before the off, >= 0: {self.checkpoints_s}")
        object.__setattr__(self, "checkpoints_s", tuple(sorted(set(self.checkpoints_s), reverse=True)))

    @property
    def decision_s(self) -> float:
        """The lead of the final checkpoint: where stakes are decided."""
        return self.checkpoints_s[-1]

    def checkpoint_times(self, off_ts: float) -> list[float]:
        """Checkpoint times of a race, earliest first."""
        return [off_ts - lead for lead in self.checkpoints_s]


@dataclass
class Emission:
    """One prediction to make: which card, which market state, and why."""

    race_id: str
    sequence: int
    trigger: Trigger
    #: the market state the prediction uses (a copy, never changed later)
    market: RaceMarket | None
    final: bool

    @property
    def market_time(self) -> float | None:
        return None if self.market is None else self.market.last_time

    def to_dict(self) -> dict[str, Any]:
        return {
            "race_id": self.race_id,
            "sequence": self.sequence,
            "trigger": self.trigger,
            "final": self.final,
            "market": None if self.market is None else self.market.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Emission:
        m = d.get("market")
        return cls(
            d["race_id"], d["sequence"], d["trigger"], None if m is None else RaceMarket.from_dict(m), d["final"]
        )


@dataclass
class EmitState:
    """What a race has emitted so far; kept beside its market state."""

    #: the last sequence number given (-1: none yet)
    seq: int = -1
    #: the card now in force (its hash) and the emission it got, so that a
    #: redelivered card is answered exactly as the first time
    card_hash: str | None = None
    card_emission: Emission | None = None
    #: market probabilities (card order) and book at the last emission
    probs: list[float] | None = None
    book: float | None = None
    #: event time of the last emission, and the race's latest event time
    at: float | None = None
    clock: float | None = None
    #: checkpoints passed (fired, or skipped for want of a card)
    passed: int = 0
    final: bool = False
    #: the moment at ``clock`` has not been judged for a move yet
    unjudged: bool = False
    #: updates folded with the time ``clock`` (to tell when a moment whose
    #: size its publisher gave is complete)
    moment_n: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "card_hash": self.card_hash,
            "probs": self.probs,
            "book": self.book,
            "at": self.at,
            "clock": self.clock,
            "passed": self.passed,
            "final": self.final,
            "unjudged": self.unjudged,
            "moment_n": self.moment_n,
            "card_emission": None if self.card_emission is None else self.card_emission.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EmitState:
        ce = d.get("card_emission")
        return cls(
            d["seq"],
            d.get("card_hash"),
            None if ce is None else Emission.from_dict(ce),
            d.get("probs"),
            d.get("book"),
            d.get("at"),
            d.get("clock"),
            d.get("passed", 0),
            d.get("final", False),
            d.get("unjudged", False),
            d.get("moment_n", 0),
        )


def book_view(market: RaceMarket | None, card: RaceCard) -> tuple[list[float] | None, float | None]:
    """Per runner (card order) the market probability a prediction would use
    (:func:`velo.markets.prices.market_probs`' prices: the market's, else the
    card's, overround removed), and the book (the sum of implied
    probabilities): what a material move compares. None where the race has
    no market probability. Plain Python: it runs for every market moment, and
    numpy's per-call cost was most of it for 14 runners."""
    prices = market_prices(market, [r.runner_id for r in card.runners], [r.price for r in card.runners])
    if prices is None:
        return None, None
    inv = [1.0 / p for p in prices]
    book = sum(inv)
    return [x / book for x in inv], book


def card_digest(card: RaceCard, wire: bytes | None = None) -> Any:
    """The sha256 of the card's bytes (``wire``, its :meth:`encode`, where
    the caller has them), where its hash and each of its request ids start.
    The worker encodes and hashes each card once and hands both on (see
    ``velo.serving.scorer.CardInputs`` and ``MarketStore.save``): encoding a
    card is not free, and the emit state, both models' request ids and the
    kept card need it."""
    return hashlib.sha256(card.encode() if wire is None else wire)


def card_hash(card: RaceCard) -> str:
    """What tells a redelivered card (the same card again) from a new one."""
    return card_digest(card).hexdigest()


def _moved(state: EmitState, probs: list[float] | None, book: float | None, threshold: float) -> bool:
    if probs is None:
        return False  # no full market yet: nothing to say about it
    if state.probs is None or len(state.probs) != len(probs) or state.book is None or book is None:
        return True  # the first full market since the last prediction
    if abs(book - state.book) > threshold:
        return True
    return any(abs(a - b) > threshold for a, b in zip(probs, state.probs, strict=True))


def _snapshot(market: RaceMarket | None) -> RaceMarket | None:
    return None if market is None else market.copy()


@dataclass
class RaceEmitter:
    """One race's re-prediction rules over its card, market and emit state.

    The caller loads the three, calls :meth:`on_card`, :meth:`on_update` (in
    arrival order) or :meth:`tick`, and stores them back with the emissions
    it then scores. Nothing here does I/O.
    """

    policy: RepredictPolicy
    race_id: str
    card: RaceCard | None
    market: RaceMarket | None
    state: EmitState = field(default_factory=EmitState)

    def _off(self) -> float | None:
        return None if self.card is None else self.card.race.off_time.timestamp()

    def _emit(self, trigger: Trigger, final: bool, now: float | None) -> Emission:
        s = self.state
        s.seq += 1
        e = Emission(self.race_id, s.seq, trigger, _snapshot(self.market), final)
        s.probs, s.book = book_view(self.market, self.card) if self.card else (None, None)
        s.at = now
        s.final = s.final or final
        return e

    def on_card(self, card: RaceCard, card_hash: str) -> Emission:
        """The card's own prediction. A redelivered card (the same bytes) gets
        the emission it got the first time."""
        s = self.state
        if s.card_hash == card_hash and s.card_emission is not None:
            return s.card_emission
        self.card = card
        if s.clock is not None and self.policy.enabled:  # checkpoints that passed before any card
            times = self.policy.checkpoint_times(card.race.off_time.timestamp())
            while s.passed < len(times) and times[s.passed] < s.clock:
                s.passed += 1
        if not self.policy.enabled:
            e = self._emit("card", True, s.clock)
        else:
            # past the decision time already (a late card): it is the last word
            e = self._emit("card", s.passed >= len(self.policy.checkpoints_s), s.clock)
        s.card_hash, s.card_emission = card_hash, e
        return e

    def _checkpoints(self, now: float) -> list[Emission]:
        """Fire every checkpoint earlier than ``now`` not yet passed."""
        s = self.state
        out: list[Emission] = []
        off = self._off()
        if not self.policy.enabled or off is None:
            return out
        times = self.policy.checkpoint_times(off)
        while s.passed < len(times) and times[s.passed] < now:
            s.passed += 1
            if not s.final:
                out.append(self._emit("checkpoint", s.passed == len(times), times[s.passed - 1]))
        return out

    def on_update(self, update: MarketUpdate) -> list[Emission]:
        """Fold one update in; what the race's market calls for before it.

        A move is judged once the moment it belongs to is complete: when an
        update later than the race's clock arrives (an exchange sends every
        runner of a moment with one publish time), or as soon as the
        moment's ``moment_size`` updates are in, where its publisher gave
        it. So a prediction's ``market_time`` names its state exactly: every
        update up to that time and none after, however the updates were
        batched. Judging a complete moment at once rather than at the next
        update changes when the prediction is made, not what it says: the
        same moments are judged, in the same order, against the same
        checkpoints.
        """
        t = update.publish_time.timestamp()
        s = self.state
        out = []
        if s.clock is not None and t > s.clock:
            out += self._judge_move()
        out += self._checkpoints(t)
        if self.market is None:
            self.market = RaceMarket(self.race_id)
        self.market.apply(update)
        if s.clock is None or t >= s.clock:
            s.moment_n = s.moment_n + 1 if t == s.clock else 1
            s.clock = t
            s.unjudged = not update.in_play
            size = update.moment_size
            # a race with no card yet keeps its moment for the card to come
            if size is not None and s.moment_n == size and self.card is not None:
                out += self._judge_move()
        return out

    def _judge_move(self) -> list[Emission]:
        s = self.state
        if not s.unjudged:
            return []
        s.unjudged = False
        if self.card is None or s.final or not self.policy.enabled or s.clock is None:
            return []
        if s.at is not None and s.clock - s.at < self.policy.debounce_s:
            return []
        probs, book = book_view(self.market, self.card)
        if _moved(s, probs, book, self.policy.threshold):
            return [self._emit("market", False, s.clock)]
        return []

    def on_updates(self, updates: Sequence[MarketUpdate]) -> list[Emission]:
        return [e for u in updates for e in self.on_update(u)]

    def tick(self, now: float, judge: bool = False) -> list[Emission]:
        """By the wall clock (live, when the market is quiet): with ``judge``
        (the caller saw no update for a while), the move of the moment no
        later update has closed; then the checkpoints due by ``now``."""
        out = self._judge_move() if judge else []
        return out + self._checkpoints(now)


#: Which of a race's predictions a backtest scores: ``"last"`` (the last
#: before the off: the final one where there is one), ``"first"``, or a
#: number of seconds before the off: the last whose market state is from no
#: later than that (what a bettor acting then had).
Choice = str

CHOICES_HELP = "last (default), first, or seconds before the off (e.g. 120)"


def parse_choice(text: str) -> Choice:
    """A valid choice, or ValueError with one line saying what is allowed."""
    t = text.strip().lower()
    if t in ("last", "first"):
        return t
    try:
        lead = float(t)
    except ValueError:
        raise ValueError(f"{text!r} is not a prediction choice: use {CHOICES_HELP}") from None
    if not math.isfinite(lead) or lead < 0:
        raise ValueError(f"{text!r}: seconds before the off must be a number >= 0")
    return str(lead)


def choose(candidates: Sequence[tuple[int, float | None]], off_ts: float, choice: Choice) -> int | None:
    """The index of the chosen one among a race's ``(sequence, market_time)``
    pairs (None if none qualifies). The served and the offline backtest both
    choose with this."""
    if not candidates:
        return None
    order = sorted(range(len(candidates)), key=lambda i: candidates[i][0])
    if choice == "last":
        return order[-1]
    if choice == "first":
        return order[0]
    cut = off_ts - float(choice)
    ok = [i for i in order if (t := candidates[i][1]) is None or t <= cut]
    return ok[-1] if ok else None
