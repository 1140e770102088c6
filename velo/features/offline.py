"""The offline training set: events replayed through the stream's engine."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import cast

import numpy as np
import pandas as pd
from tqdm import tqdm

from schemas import RaceCard, RaceResult
from velo.data.events import Event
from velo.features.definitions import SQPE_FEATURES, TIE_FEATURES
from velo.features.engine import FeatureEngine, RaceFeatures
from velo.features.memory_store import MemoryStore
from velo.features.records import cutoff_ts
from velo.features.store import FeatureStore
from velo.markets.prices import decision_prices
from velo.markets.repredict import Choice, Emission, RaceEmitter, RepredictPolicy, card_hash, choose
from velo.markets.view import MARKET_COLUMNS, market_view

KEY_COLUMNS = ["race_id", "off_time", "runner_id"]
FEATURE_COLUMNS = SQPE_FEATURES + TIE_FEATURES


#: Cards computed together at most (bounds a replay's memory, not its result).
BATCH_RUNNERS = 100_000


def replay(
    events: Iterable[Event], engine: FeatureEngine, progress: bool = False, batch: bool = True
) -> list[RaceFeatures]:
    """Drive the engine with events in the given order and return each card's
    features as the stream would compute them on arrival.

    A read sees only state from before its cutoff, so a card's features are
    the same whenever they are computed, as long as every result that
    arrived before the card is applied and none that arrived after it and
    that it could see. The replay therefore applies each result as it comes
    and computes cards together (``batch``), up to ``BATCH_RUNNERS`` runners
    at a time, flushing the waiting cards first whenever a result arrives
    that one of them could see. In the usual order (a day's results before
    the next day's cards) that never happens, and the whole history is a few
    vectorised reads. A replay holds every card and result itself, so it
    matches them here and applies each pair directly
    (``FeatureEngine.apply_results``): the same state as the stream's pairing
    through the store, without its round trip of encoded cards and results.
    """
    with _gc_paused():
        return _replay(events, engine, progress, batch)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: a replay allocates millions of
    small lists and dicts and frees none of them in cycles, and the collector
    kept walking all of them (8-25% of a Hong Kong build, measured). Reference counting still
    frees everything."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _replay(events: Iterable[Event], engine: FeatureEngine, progress: bool, batch: bool) -> list[RaceFeatures]:
    out: list[RaceFeatures] = []
    pending: list[RaceCard] = []
    pending_runners = 0
    latest_cut = -np.inf  # the latest cutoff among the waiting cards
    cards: dict[str, RaceCard] = {}  # every card seen, by race
    waiting: dict[str, RaceResult] = {}  # results whose card has not arrived

    def flush() -> None:
        nonlocal pending, pending_runners, latest_cut
        if pending:
            out.extend(engine.features_many(pending))
        pending, pending_runners, latest_cut = [], 0, -np.inf

    def settle(card: RaceCard, result: RaceResult) -> None:
        if result.off_time.timestamp() < latest_cut:  # a waiting card could see it: it came first
            flush()
        engine.apply_results([(card, result)])

    for ev in tqdm(events, desc="features", unit="ev", disable=not progress, mininterval=1.0):
        if ev.kind == "card":
            card = ev.message
            assert isinstance(card, RaceCard)
            pending.append(card)
            pending_runners += len(card.runners)
            latest_cut = max(latest_cut, cutoff_ts(card.race.off_time.timestamp()))
            cards[card.race_id] = card
            if card.race_id in waiting:
                settle(card, waiting.pop(card.race_id))
            if not batch or pending_runners >= BATCH_RUNNERS:
                flush()
        elif ev.kind == "result":
            result = ev.message
            assert isinstance(result, RaceResult)
            card = cards.get(result.race_id)
            if card is None:
                waiting[result.race_id] = result  # the last one wins, as in the store
            else:
                settle(card, result)
    flush()
    return out


def to_frame(features: list[RaceFeatures]) -> pd.DataFrame:
    """One row per runner: keys then the SQPE and TIE feature columns."""
    if not features:
        return pd.DataFrame(columns=KEY_COLUMNS + FEATURE_COLUMNS)
    race_ids = np.repeat([f.race_id for f in features], [len(f.runner_ids) for f in features])
    offs = np.repeat([f.off_time for f in features], [len(f.runner_ids) for f in features])
    frame = pd.DataFrame(np.vstack([np.hstack([f.sqpe, f.tie]) for f in features]), columns=FEATURE_COLUMNS)
    frame.insert(0, "runner_id", [r for f in features for r in f.runner_ids])
    frame.insert(0, "off_time", pd.to_datetime(offs, utc=True))
    frame.insert(0, "race_id", race_ids)
    return frame


def build_training_set(
    events: list[Event],
    store: FeatureStore | None = None,
    progress: bool = False,
    policy: RepredictPolicy | None = None,
    choice: Choice = "last",
) -> pd.DataFrame:
    """Features, market view, labels and prices for every card, one row per runner.

    The market view is that of the race's prediction the worker would score
    for ``choice`` (:func:`velo.markets.repredict.choose`; by default the
    last before the off, at decision-time prices), from the same
    :class:`RaceEmitter` the worker drives; ``final`` says whether that
    prediction is the final one (the only one whose stakes count). A race
    none of whose predictions qualifies is left out.

    Labels (``won``, ``position``) and ``price_final`` come from the race's
    result event and are targets/benchmarks, never features.
    """
    engine = FeatureEngine(store or MemoryStore())
    policy = policy or RepredictPolicy()
    emitters: dict[str, RaceEmitter] = {}
    emitted: dict[str, list[Emission]] = {}
    cards: dict[str, RaceCard] = {}

    def emitter(race_id: str) -> RaceEmitter:
        em = emitters.get(race_id)
        if em is None:
            em = emitters[race_id] = RaceEmitter(policy, race_id, None, None)
        return em

    def card_events():
        for ev in events:
            if ev.kind == "market":
                emitted.setdefault(ev.key, []).extend(emitter(ev.key).on_update(ev.message))
                continue
            if ev.kind == "card":
                card = cards[ev.key] = ev.message
                emitted.setdefault(ev.key, []).append(emitter(ev.key).on_card(card, card_hash(card)))
            yield ev

    frame = to_frame(replay(card_events(), engine, progress))
    views, finals = [], []
    prices: list[tuple[str, str, float]] = []
    for race_id in frame["race_id"].unique():
        card, ems = cards[race_id], emitted[race_id]
        pick = choose([(e.sequence, e.market_time) for e in ems], card.race.off_time.timestamp(), choice)
        n = len(card.runners)
        if pick is None:
            views.append(np.full((n, len(MARKET_COLUMNS)), np.nan))
            finals.append(np.full(n, -1))
            continue
        views.append(market_view(ems[pick].market, card))
        finals.append(np.full(n, int(ems[pick].final)))
        # the price the chosen prediction's stakes were decided at
        prices += zip(
            [race_id] * n,
            [r.runner_id for r in card.runners],
            decision_prices(card, ems[pick].market).tolist(),
            strict=True,
        )
    frame[MARKET_COLUMNS] = np.vstack(views) if views else np.empty((0, len(MARKET_COLUMNS)))
    frame["final"] = np.concatenate(finals) if finals else np.empty(0, dtype=int)
    frame = frame[frame["final"] >= 0].copy()
    frame["final"] = frame["final"].astype(bool)
    labels = []
    for ev in events:
        if ev.kind == "result":
            labels += [(ev.key, f.runner_id, f.position, f.sp) for f in cast(RaceResult, ev.message).finishers]
    p = pd.DataFrame(prices, columns=["race_id", "runner_id", "price_pre"]).drop_duplicates(["race_id", "runner_id"])
    lab = pd.DataFrame(labels, columns=["race_id", "runner_id", "position", "price_final"]).drop_duplicates(
        ["race_id", "runner_id"]
    )
    lab["won"] = (lab["position"] == 1).astype(int)
    out = frame.merge(p, on=["race_id", "runner_id"], how="left").merge(lab, on=["race_id", "runner_id"], how="left")
    # runners on a card without a result row (withdrawn late) did not win
    out["won"] = out["won"].fillna(0).astype(int)
    return out
