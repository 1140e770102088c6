"""The worker's decisions, with no Kafka in them.

Every message on an input topic must end as exactly one of: a prediction (a
card), applied state (a market update or a result), or a dead letter with its
reason. This service makes those decisions over a store that is passed in
(Redis in the worker, memory in tests); the stream adapter in
``streams/app.py`` only reads messages, carries the decisions out (publish,
dead-letter, write the log) and then acknowledges.

Failures are handled by kind (see :mod:`velo.serving.faults`):

- a message that cannot be decoded, validated or scored is *rejected*; a batch
  that fails is re-run one card at a time, so only the poison is rejected;
- a transient failure (Redis, broker) and :class:`NotReady` (no champion)
  propagate: the adapter retries the same batch later, and nothing is
  acknowledged meanwhile. Every state change here is idempotent, so a retried
  or redelivered batch gives the same state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from schemas import Contract, ContractError, MarketUpdate, Prediction, PredictionLog, RaceCard, RaceResult
from velo.engines.model import VeloModel
from velo.features.cache import FeatureCache
from velo.features.engine import FeatureEngine
from velo.features.store import FeatureStore
from velo.markets.repredict import Emission, RaceEmitter, RepredictPolicy, card_digest
from velo.markets.store import MarketStore, RaceState
from velo.serving.faults import NotReady, describe, is_transient
from velo.serving.inbound import Inbound, Rejected
from velo.serving.ledger import LoggedPrediction, OutcomeLedger, outcome_rows
from velo.serving.scorer import CardInputs, Predicted, card_inputs, log_rows, score_cards

log = logging.getLogger("velo.service")
C = TypeVar("C", bound=Contract)

#: An encoded prediction larger than this cannot be published (the producer's
#: 1 MiB request limit, less room for the key and headers).
MAX_PREDICTION_BYTES = 1_000_000


class ModelVersion(Protocol):
    """What the service reads of a model's registry record (a ModelRecord)."""

    @property
    def version(self) -> str: ...


class LoadedModel(Protocol):
    """A model with its record (a ModelHolder's Loaded); read-only here."""

    @property
    def record(self) -> ModelVersion: ...

    @property
    def model(self) -> VeloModel: ...


class Models(Protocol):
    """Where the current champion and challenger come from (a ModelHolder);
    read-only here."""

    @property
    def champion(self) -> LoadedModel | None: ...

    @property
    def challenger(self) -> LoadedModel | None: ...


class Observer(Protocol):
    """Drift and live-quality monitoring; must never raise."""

    def observe_scored(
        self, champion: Any, inputs: CardInputs, mains: list[Predicted], shadows: list[Predicted] | None
    ) -> None: ...

    def observe_result(self, result: RaceResult) -> None: ...


@dataclass
class _Chunk:
    """Cards scored together: their shared inputs and champion predictions."""

    inputs: CardInputs
    predictions: list[Predicted]


@dataclass
class Scored:
    """The champion's answer to a batch of cards.

    ``sources[i]`` is answered by ``predictions[i]`` (``encoded[i]`` on the
    wire); every other message of the batch is in ``rejected``.
    """

    sources: list[Inbound] = field(default_factory=list)
    predictions: list[Predicted] = field(default_factory=list)
    encoded: list[bytes] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    chunks: list[_Chunk] = field(default_factory=list)
    champion: LoadedModel | None = None
    #: every card that was scored (its prediction published or, if too large, rejected)
    cards: list[RaceCard] = field(default_factory=list)


@dataclass
class Applied:
    """State applied from a batch of market updates or results."""

    applied: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    #: outcome rows for predicted races whose result this batch carried
    log_rows: list[PredictionLog] = field(default_factory=list)
    #: predictions the batch's market moves and checkpoints made (to publish,
    #: then tell :meth:`WorkerService.published` the races)
    scored: Scored = field(default_factory=Scored)
    #: the pending emissions these predictions are: race -> sequence numbers
    #: (for :meth:`WorkerService.published` once they are out)
    emitted: dict[str, list[int]] = field(default_factory=dict)
    #: the batch's market state is in memory only: its messages may be
    #: acknowledged once a later :meth:`WorkerService.flush` has returned
    unflushed: bool = False


def _decode_all(messages: Sequence[Inbound], contract: type[C], rejected: list[Rejected]) -> list[tuple[Inbound, C]]:
    """Each message decoded, in order; the undecodable appended to ``rejected``.

    A contract error names its fields; anything else a decoder raises is a
    defect of ours, but still the message's own: say what was raised.
    """
    good = []
    for m in messages:
        try:
            good.append((m, contract.decode(m.value)))
        except Exception as exc:
            why = str(exc) if isinstance(exc, ContractError) else f"could not decode: {describe(exc)}"
            rejected.append(Rejected(m, why))
    return good


K = TypeVar("K")
X = TypeVar("X")
R = TypeVar("R")


def _isolating(
    items: list[tuple[K, X]], run: Callable[[list[X]], R], what: str, on_poison: Callable[[K, Exception], None]
) -> list[tuple[list[tuple[K, X]], R]]:
    """``run`` over the whole batch; if that fails (not transiently), over each
    item alone, so only the poison is handed to ``on_poison`` and its
    neighbours go through. Every ``run`` here is idempotent, so what a failed
    batch did first is not done twice. Returns (the items of each successful
    run, its result)."""
    try:
        return [(items, run([x for _, x in items]))]
    except Exception as exc:
        if is_transient(exc):
            raise
        log.warning("a batch of %d %s failed (%s); running them one at a time", len(items), what, describe(exc))
    done = []
    for k, x in items:
        try:
            done.append(([(k, x)], run([x])))
        except Exception as one:
            if is_transient(one):
                raise
            on_poison(k, one)
    return done


def _rejecting(rejected: list[Rejected], reason: str) -> Callable[[Inbound, Exception], None]:
    """An ``on_poison`` for :func:`_isolating` that rejects the message with ``reason``."""
    return lambda m, exc: rejected.append(Rejected(m, f"{reason}: {describe(exc)}"))


class WorkerService:
    """Cards to predictions, updates and results to state, and the log rows."""

    def __init__(
        self,
        store: FeatureStore,
        models: Models,
        model_name: str,
        observer: Observer | None = None,
        max_prediction_bytes: int = MAX_PREDICTION_BYTES,
        policy: RepredictPolicy | None = None,
        write_behind: bool = False,
    ) -> None:
        self.store = store
        self.engine = FeatureEngine(store)
        #: a race's features, reused by its re-predictions while still valid
        self.features = FeatureCache(self.engine)
        #: write_behind: market states wait in memory for :meth:`flush`
        self.markets = MarketStore(store, write_behind)
        #: the worker's own bookkeeping: what each race was given, and its result
        self.ledger = OutcomeLedger(store)
        self.models = models
        self.model_name = model_name
        self.observer = observer
        self.max_prediction_bytes = max_prediction_bytes
        self.policy = policy or RepredictPolicy()
        #: pending emissions (race, sequence) handed out to be published and
        #: not yet reported published (see apply_market_updates)
        self._handed_out: set[tuple[str, int]] = set()
        #: races this process has seen with checkpoints to come -> the next
        #: one's time: what the wall-clock :meth:`tick` looks at
        self.due: dict[str, float] = {}
        #: races whose latest market moment is not judged yet -> its time
        self.unjudged: dict[str, float] = {}

    # -- cards ---------------------------------------------------------
    def score_cards(self, messages: Sequence[Inbound]) -> Scored:
        """The champion's predictions; the poison rejected, the rest unharmed.

        Raises :class:`NotReady` with no champion, and transient failures as
        they are: the caller retries the whole batch.
        """
        out = Scored()
        good = _decode_all(messages, RaceCard, out.rejected)
        if not good:
            return out
        champ = self.models.champion
        if champ is None:
            raise NotReady(f"no champion loaded for {self.model_name}")
        out.champion = champ
        chunks = _isolating(
            good, lambda cards: self._score(cards, champ), "cards", _rejecting(out.rejected, "scoring failed")
        )
        for members, (inputs, preds) in chunks:
            out.cards += inputs.cards
            kept = []
            for (m, _), pred in zip(members, preds, strict=True):
                wire = pred.encode()
                if len(wire) > self.max_prediction_bytes:
                    out.rejected.append(
                        Rejected(
                            m,
                            f"prediction of {len(wire):,} bytes exceeds the output limit "
                            f"of {self.max_prediction_bytes:,}",
                        )
                    )
                    continue
                out.sources.append(m)
                out.predictions.append(pred)
                out.encoded.append(wire)
                kept.append(pred)
            if kept:
                out.chunks.append(_Chunk(inputs, kept))
        return out

    def _score(self, cards: list[RaceCard], champ: LoadedModel) -> tuple[CardInputs, list[Predicted]]:
        """Each card's emission (its race's next sequence number, the market
        state now), scored; the emit state and the card are written before
        the predictions go out, so a redelivered card is answered the same."""
        wires = [c.encode() for c in cards]  # each card encoded and hashed once: its ids, its hash, its copy kept
        digests = [card_digest(c, w) for c, w in zip(cards, wires, strict=True)]
        hashes = [d.hexdigest() for d in digests]
        # kept for the race's re-predictions; a new card is computed, not looked up
        feats = self.features.features(cards, hashes, reuse=False)
        states = {st.race_id: st for st in self.markets.load(list(dict.fromkeys(c.race_id for c in cards)), False)}
        emissions = []
        for card, card_hash in zip(cards, hashes, strict=True):
            st = states[card.race_id]
            emitter = RaceEmitter(self.policy, card.race_id, None, st.market, st.emit)
            emissions.append(emitter.on_card(card, card_hash))
        inputs = card_inputs(cards, feats, [e.market for e in emissions], emissions, digests)
        preds = score_cards(inputs, champ.model, champ.record.version)
        self.markets.save(list(states.values()), pending=False, cards=cards, card_wires=wires)
        self._track(states.values(), {c.race_id: c for c in cards})
        return inputs, preds

    def _track(self, states: Iterable[RaceState], cards: dict[str, RaceCard], received: float | None = None) -> None:
        """Keep :attr:`due` and :attr:`unjudged` (the wall-clock tick's
        races) up to date; ``received``: when this process folded their
        latest updates, by its own clock."""
        for st in states:
            card = cards.get(st.race_id) or st.card
            times = self.policy.checkpoint_times(card.race.off_time.timestamp()) if card else []
            if card is None or st.emit.final or st.emit.passed >= len(times) or not self.policy.enabled:
                self.due.pop(st.race_id, None)
                self.unjudged.pop(st.race_id, None)
                continue
            self.due[st.race_id] = times[st.emit.passed]
            if not st.emit.unjudged:
                self.unjudged.pop(st.race_id, None)
            elif received is not None:
                self.unjudged[st.race_id] = received

    def shadow_and_log(self, scored: Scored) -> list[PredictionLog]:
        """Remember the cards, score the challenger in shadow and build every
        log row of the batch.

        Called after the champion's predictions are published, so none of it
        costs latency. Also writes each race's ``logged:`` entry and, for a
        race whose result is already in, its outcome rows: results and cards
        may arrive in either order (both sides write theirs, then read the
        other's, so at least one of them writes the outcome rows).
        """
        # a result needs its card; a result that came first waits in the
        # store and is applied here (cards change no features, so this can
        # follow the champion's predictions)
        if scored.cards:
            self._remember(scored.cards)
        if not scored.predictions:
            return []
        chall = self.models.challenger
        rows: list[PredictionLog] = []
        entries: dict[str, list[LoggedPrediction]] = {}
        observed: list[tuple[_Chunk, list[Predicted] | None]] = []
        for chunk in scored.chunks:
            shadows = None
            if chall is not None:
                try:
                    every = score_cards(chunk.inputs, chall.model, chall.record.version)
                    kept = {p.request_id for p in chunk.predictions}
                    shadows = [p for p in every if p.request_id in kept]
                except Exception as exc:
                    if is_transient(exc):
                        raise
                    log.error(
                        "challenger %s failed on %d cards: %s",
                        chall.record.version,
                        len(chunk.predictions),
                        describe(exc),
                    )
            observed.append((chunk, shadows))
            rows += [r for p in chunk.predictions for r in log_rows(p, True)]
            rows += [r for p in shadows or [] for r in log_rows(p, False)]
            for i, main in enumerate(chunk.predictions):
                done = [main] if shadows is None else [main, shadows[i]]
                entries.setdefault(main.race_id, []).extend(
                    LoggedPrediction(p.request_id, p.model_name, p.model_version, p is main) for p in done
                )
        # a race's entry lists every prediction it was given (card, market
        # moves, checkpoints); a retried batch adds nothing twice
        now = datetime.now(UTC)
        for result, added in self.ledger.record(entries):
            rows += outcome_rows(added, result, now)
        if self.observer is not None:  # last, so a retried batch is observed once
            for chunk, shadows in observed:
                self.observer.observe_scored(scored.champion, chunk.inputs, chunk.predictions, shadows)
        return rows

    def _remember(self, cards: list[RaceCard]) -> None:
        """Keep the cards for their results. Their predictions are already
        out, so a card that cannot be kept is logged, not dead-lettered: its
        result then waits in the store, as it would have before its card."""

        def unkept(race_id: str, exc: Exception) -> None:
            log.error("card %s was predicted but cannot be kept for its result: %s", race_id, describe(exc))

        # written already, with their races' emit state (see _score)
        _isolating(
            [(c.race_id, c) for c in cards],
            lambda cs: self.engine.remember_many(cs, stored=True),
            "cards to keep",
            unkept,
        )

    def predict(self, card: RaceCard) -> Prediction:
        """One card, read-only (POST /predict): the card is not remembered."""
        champ = self.models.champion
        if champ is None:
            raise NotReady(f"no champion loaded for {self.model_name}")
        feats = self.engine.features_many([card])
        inputs = card_inputs([card], feats, self.markets.get_many([card.race_id]))
        return score_cards(inputs, champ.model, champ.record.version)[0].contract()

    # -- state ---------------------------------------------------------
    def apply_market_updates(self, messages: Sequence[Inbound]) -> Applied:
        """Fold the updates into their races' markets, in arrival order, and
        predict again where a move or a checkpoint calls for it.

        The new market states, emit states and the emissions they call for
        are written in one step before anything is scored; the emissions stay
        pending until :meth:`published` hears they are out. A pending
        emission this process has not handed out (a crash left it, another
        worker held the partition, or scoring it failed and this is the
        retry) is made again: the same sequence, market state and
        request_id. A redelivered update changes no state and so triggers
        nothing new.
        """
        out = Applied()
        good = _decode_all(messages, MarketUpdate, out.rejected)
        if not good:
            return out
        folded = _isolating(
            good, lambda ups: self._fold(ups, None), "market updates", _rejecting(out.rejected, "market update failed")
        )
        out.applied = sum(len(members) for members, _ in folded)
        self._emit([pair for _, pairs in folded for pair in pairs], out)
        out.unflushed = self.markets.unflushed
        return out

    def flush(self) -> None:
        """Write the market states held in memory (see ``write_behind``)."""
        self.markets.flush()

    def tick(self, now: float, settle_s: float = 0.03) -> Applied:
        """The wall clock's part, live: checkpoints due by ``now`` (seconds
        since the epoch), and the moves of races whose last update this
        process folded ``settle_s`` ago or more with nothing after it. Same
        rules for overlap as :meth:`apply_market_updates`."""
        out = Applied()
        quiet = {r for r, t in self.unjudged.items() if t <= now - settle_s}
        races = list(dict.fromkeys([r for r, t in self.due.items() if t < now] + sorted(quiet)))
        if races:
            self._emit(self._fold([], now, races, quiet), out)
        return out

    def _fold(
        self,
        updates: list[MarketUpdate],
        now: float | None,
        races: Sequence[str] = (),
        quiet: set[str] | frozenset[str] = frozenset(),
    ) -> list[tuple[Emission, RaceCard]]:
        """Load, fold, fire, save: the emissions to make (pending ones first)."""
        by_race: dict[str, list[MarketUpdate]] = {r: [] for r in races}
        for u in updates:
            by_race.setdefault(u.race_id, []).append(u)
        states = self.markets.load(list(by_race))
        made: list[tuple[Emission, RaceCard]] = []
        for st in states:
            emitter = RaceEmitter(self.policy, st.race_id, st.card, st.market, st.emit)
            new = emitter.on_updates(by_race[st.race_id])
            if now is not None:
                new += emitter.tick(now, st.race_id in quiet)
            st.market = emitter.market
            redo = [e for e in st.pending if (st.race_id, e.sequence) not in self._handed_out]
            st.pending = st.pending + new
            if st.card is not None:
                made += [(e, st.card) for e in redo + new]
        self.markets.save(states)
        self._track(states, {}, time.time() if updates else None)
        return made

    def _emit(self, made: list[tuple[Emission, RaceCard]], out: Applied) -> None:
        """Score the emissions with the champion (their races' cards, their
        own market states). Raises NotReady and transient failures (the
        caller retries; the emissions wait, pending); a failure of our own is
        logged and the emissions dropped, since no input message is theirs."""
        if not made:
            return
        champ = self.models.champion
        if champ is None:
            raise NotReady(f"no champion loaded for {self.model_name}")
        race_ids = list(dict.fromkeys(e.race_id for e, _ in made))
        emitted: dict[str, list[int]] = {}
        for e, _ in made:
            emitted.setdefault(e.race_id, []).append(e.sequence)
        try:
            cards = [c for _, c in made]
            emissions = [e for e, _ in made]
            digests = [card_digest(c) for c in cards]  # once for the champion's and the shadow's request ids
            feats = self.features.features(cards, [d.hexdigest() for d in digests])
            inputs = card_inputs(cards, feats, [e.market for e in emissions], emissions, digests)
            preds = score_cards(inputs, champ.model, champ.record.version)
        except Exception as exc:
            if is_transient(exc):
                raise
            log.error("re-predicting %d race(s) failed, their emissions are dropped: %s", len(race_ids), describe(exc))
            self.markets.published(emitted)
            return
        s = out.scored
        s.champion = champ
        kept = []
        for pred in preds:
            wire = pred.encode()
            if len(wire) > self.max_prediction_bytes:  # its card's own prediction was refused the same way
                log.error("re-prediction %s of %d bytes exceeds the output limit", pred.request_id, len(wire))
                continue
            s.predictions.append(pred)
            s.encoded.append(wire)
            kept.append(pred)
        if kept:
            s.chunks.append(_Chunk(inputs, kept))
        out.emitted = emitted
        self._handed_out.update((r, q) for r, seqs in emitted.items() for q in seqs)

    def published(self, emitted: dict[str, list[int]]) -> None:
        """These pending emissions (race -> sequence numbers) are published."""
        self.markets.published(emitted)
        self._handed_out.difference_update((r, q) for r, seqs in emitted.items() for q in seqs)

    def apply_results(self, messages: Sequence[Inbound]) -> Applied:
        """Feature state from each result, and outcome rows for its predictions.

        A batch is applied in a few round trips; if it fails, it is re-run one
        result at a time (see :func:`_isolating`).
        """
        out = Applied()
        good = _decode_all(messages, RaceResult, out.rejected)
        done = (
            _isolating(good, self._apply_results, "results", _rejecting(out.rejected, "result failed")) if good else []
        )
        applied = [pair for _, pairs in done for pair in pairs]
        now = datetime.now(UTC)
        for result, logged in applied:
            if logged:
                out.log_rows += outcome_rows(logged, result, now)
        out.applied = len(applied)
        if self.observer is not None:  # only once the whole batch is through, so a retry counts nothing twice
            for result, _ in applied:
                self.observer.observe_result(result)
        return out

    def _apply_results(self, results: list[RaceResult]) -> list[tuple[RaceResult, list[LoggedPrediction]]]:
        """Apply, record each as final, and fetch each race's logged predictions."""
        if not results:
            return []
        self.engine.on_results(results)
        return list(zip(results, self.ledger.settle(results), strict=True))
