"""The offline training set: events replayed through the stream's engine."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from tqdm import tqdm

from schemas import RaceCard, RaceResult
from velo.data.events import Event
from velo.engines.nds import NDS, NDS_COLUMNS, market_probs
from velo.features.definitions import SQPE_FEATURES, TIE_FEATURES
from velo.features.engine import FeatureEngine, RaceFeatures
from velo.features.memory_store import MemoryStore
from velo.features.records import cutoff_ts
from velo.features.store import FeatureStore
from velo.markets.state import RaceMarket

KEY_COLUMNS = ["race_id", "off_time", "runner_id"]
FEATURE_COLUMNS = SQPE_FEATURES + TIE_FEATURES
MARKET_COLUMNS = ["market_prob", *NDS_COLUMNS]


def replay(
    events: Iterable[Event], engine: FeatureEngine, progress: bool = False, batch: bool = True
) -> list[RaceFeatures]:
    """Drive the engine with events in the given order and return each card's
    features as the stream would compute them on arrival.

    With ``batch`` the cards that share a cutoff (a UTC day) are computed
    together, which is faster and identical: they cannot see each other's
    results, and the batch is flushed before any result that they could see.
    """
    out: list[RaceFeatures] = []
    pending: list[RaceCard] = []
    pending_cut: float | None = None

    def flush() -> None:
        nonlocal pending, pending_cut
        if pending:
            out.extend(engine.features_many(pending))
            engine.remember_many(pending)
        pending, pending_cut = [], None

    for ev in tqdm(events, desc="features", unit="ev", disable=not progress, mininterval=1.0):
        if ev.kind == "card":
            assert isinstance(ev.message, RaceCard)
            if not batch:
                out.append(engine.on_card(ev.message))
                continue
            cut = cutoff_ts(ev.message.race.off_time.timestamp())
            if cut != pending_cut:
                flush()
                pending_cut = cut
            pending.append(ev.message)
        elif ev.kind == "result":
            assert isinstance(ev.message, RaceResult)
            # a result the pending cards could see must wait for them; their own
            # results cannot matter (same cutoff), so those need no flush
            if pending_cut is not None and ev.message.off_time.timestamp() < pending_cut:
                flush()
            engine.on_result(ev.message)
    flush()
    return out


def to_frame(features: list[RaceFeatures]) -> pd.DataFrame:
    """One row per runner: keys then the 44 feature columns."""
    if not features:
        return pd.DataFrame(columns=KEY_COLUMNS + FEATURE_COLUMNS)
    race_ids = np.repeat([f.race_id for f in features], [len(f.runner_ids) for f in features])
    offs = np.repeat([f.off_time for f in features], [len(f.runner_ids) for f in features])
    frame = pd.DataFrame(np.vstack([np.hstack([f.sqpe, f.tie]) for f in features]), columns=FEATURE_COLUMNS)
    frame.insert(0, "runner_id", [r for f in features for r in f.runner_ids])
    frame.insert(0, "off_time", pd.to_datetime(offs, utc=True))
    frame.insert(0, "race_id", race_ids)
    return frame


def market_view(market: RaceMarket | None, card: RaceCard, nds: NDS | None = None) -> np.ndarray:
    """(n_runners x 5): market probability then the NDS signals, at the card's
    decision time. The stream calls this with its table's state; the offline
    replay with its own: one implementation."""
    ids = [r.runner_id for r in card.runners]
    probs = market_probs(market, ids, [r.price for r in card.runners])
    decision = card.race.off_time.timestamp() - 60.0
    signals = (nds or NDS()).signals(market, ids, decision)
    return np.column_stack([probs, signals])


def build_training_set(events: list[Event], store: FeatureStore | None = None, progress: bool = False) -> pd.DataFrame:
    """Features, market view, labels and prices for every card, one row per runner.

    Labels (``won``, ``position``) and ``price_final`` come from the race's
    result event and are targets/benchmarks, never features.
    """
    engine = FeatureEngine(store or MemoryStore())
    markets: dict[str, RaceMarket] = {}
    views: dict[str, np.ndarray] = {}

    def card_events():
        for ev in events:
            if ev.kind == "market":
                markets.setdefault(ev.key, RaceMarket(ev.key)).apply(ev.message)
                continue
            if ev.kind == "card":
                views[ev.key] = market_view(markets.get(ev.key), ev.message)
            yield ev

    frame = to_frame(replay(card_events(), engine, progress))
    frame[MARKET_COLUMNS] = np.vstack([views[r] for r in frame["race_id"].unique()]) if len(frame) else np.empty((0, 5))
    prices, labels = [], []
    for ev in events:
        if ev.kind == "card":
            prices += [(ev.key, r.runner_id, r.price) for r in ev.message.runners]
        elif ev.kind == "result":
            labels += [(ev.key, f.runner_id, f.position, f.sp) for f in ev.message.finishers]
    p = pd.DataFrame(prices, columns=["race_id", "runner_id", "price_pre"]).drop_duplicates(["race_id", "runner_id"])
    lab = pd.DataFrame(labels, columns=["race_id", "runner_id", "position", "price_final"]).drop_duplicates(
        ["race_id", "runner_id"]
    )
    lab["won"] = (lab["position"] == 1).astype(int)
    out = frame.merge(p, on=["race_id", "runner_id"], how="left").merge(lab, on=["race_id", "runner_id"], how="left")
    # runners on a card without a result row (withdrawn late) did not win
    out["won"] = out["won"].fillna(0).astype(int)
    return out
