"""Turn a race card into a Prediction (and prediction-log rows).

The Faust agent and the HTTP endpoint both call :func:`score_cards`, so a card
gets the same answer whichever way it arrives. ``request_id`` is derived from
the card's bytes, so a redelivered card gets the same id and consumers can
de-duplicate.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime

import pandas as pd

from schemas import Prediction, PredictionLog, RaceCard
from schemas.prediction import Recommendation, RunnerPrediction
from velo.engines.model import VeloModel
from velo.features.definitions import SQPE_FEATURES, TIE_FEATURES
from velo.features.engine import RaceFeatures
from velo.features.offline import MARKET_COLUMNS, market_view
from velo.markets.state import RaceMarket


def request_id(card: RaceCard) -> str:
    return f"{card.race_id}:{hashlib.sha256(card.encode()).hexdigest()[:16]}"


def card_frame(card: RaceCard, feats: RaceFeatures, market: RaceMarket | None) -> pd.DataFrame:
    """The one-race frame the model reads: features, market view, prices."""
    frame = pd.DataFrame(feats.sqpe, columns=SQPE_FEATURES)
    frame[TIE_FEATURES] = feats.tie
    frame[MARKET_COLUMNS] = market_view(market, card)
    frame.insert(0, "runner_id", feats.runner_ids)
    frame.insert(0, "race_id", card.race_id)
    prices = []
    for r in card.runners:
        rm = market.runners.get(r.runner_id) if market else None
        prices.append(rm.back if rm and rm.back else r.price)
    frame["price_pre"] = pd.to_numeric(pd.Series(prices, dtype="float64"))
    return frame


def to_prediction(card: RaceCard, frame: pd.DataFrame, out: pd.DataFrame, model: VeloModel, version: str,
                  timings: dict[str, float]) -> Prediction:  # fmt: skip
    runners = []
    for (_, row), price in zip(out.iterrows(), frame["price_pre"], strict=True):
        stake = float(row["stake_fraction"])
        runners.append(RunnerPrediction(
            runner_id=row["runner_id"], sqpe_prob=float(row["sqpe_prob"]), tie_intent=float(row["tie_intent"]),
            nds_signal=float(row["nds_signal"]),
            market_prob=None if pd.isna(row["market_prob"]) else float(row["market_prob"]),
            final_prob=float(row["final_prob"]), price=None if pd.isna(price) else float(price),
            recommendation=Recommendation(side="back" if stake > 0 else "none", stake_fraction=stake),
        ))  # fmt: skip
    return Prediction(request_id=request_id(card), race_id=card.race_id, model_name=model.name,
                      model_version=version, created_at=datetime.now(UTC), runners=runners,
                      timings_ms={k: round(v, 3) for k, v in timings.items()})  # fmt: skip


def log_rows(pred: Prediction, is_champion: bool) -> list[PredictionLog]:
    return [
        PredictionLog(
            timestamp=pred.created_at,
            request_id=pred.request_id,
            race_id=pred.race_id,
            horse_id=r.runner_id,
            model_name=pred.model_name,
            model_version=pred.model_version,
            is_champion=is_champion,
            sqpe_prob=r.sqpe_prob,
            tie_intent=r.tie_intent,
            final_prob=r.final_prob,
        )
        for r in pred.runners
    ]


def score_cards(cards: list[RaceCard], feats: list[RaceFeatures], markets: list[RaceMarket | None],
                model: VeloModel, version: str) -> list[Prediction]:  # fmt: skip
    """Many cards in one model pass (the stream micro-batches; HTTP passes one)."""
    t0 = time.perf_counter()
    frames = [card_frame(c, f, m) for c, f, m in zip(cards, feats, markets, strict=True)]
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    t1 = time.perf_counter()
    out = model.predict_frame(frame)
    t2 = time.perf_counter()
    timings = {"frame": (t1 - t0) * 1e3 / len(cards), "model": (t2 - t1) * 1e3 / len(cards),
               "batch_size": float(len(cards))}  # fmt: skip
    preds, start = [], 0
    for card, f in zip(cards, frames, strict=True):
        sl = slice(start, start + len(f))
        preds.append(to_prediction(card, f, out.iloc[sl], model, version, timings))
        start += len(f)
    return preds
