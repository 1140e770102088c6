"""Turn a race card into a Prediction (and prediction-log rows).

The Faust agent and the HTTP endpoint both call :func:`score_cards`, so a card
gets the same answer whichever way it arrives. ``request_id`` is derived from
the card's bytes and, for a prediction the worker makes as a race's market
moves (:mod:`velo.markets.repredict`), from its sequence, trigger and market
state: a redelivery gets the same id and consumers can de-duplicate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson

from schemas import Prediction, PredictionLog, RaceCard
from velo.engines.model import VeloModel
from velo.features.engine import RaceFeatures
from velo.markets.prices import decision_prices
from velo.markets.repredict import Emission, card_digest
from velo.markets.state import RaceMarket
from velo.markets.view import market_view


def request_id(card: RaceCard, emission: Emission | None = None, digest: Any = None) -> str:
    """The card's hash alone for a one-off prediction (POST /predict); with
    the emission's sequence, trigger and market state for the stream's.
    ``digest`` is the card's :func:`card_digest` where the caller has it."""
    h = card_digest(card) if digest is None else digest.copy()
    if emission is not None:
        h.update(f"|{emission.sequence}|{emission.trigger}|".encode())
        if emission.market is not None:
            # the prices, not the count of updates folded (a redelivered one
            # is folded again and changes nothing else)
            m = emission.market
            h.update(orjson.dumps({"t": m.last_time, "r": m.runners}))
    return f"{card.race_id}:{h.hexdigest()[:16]}"


def _in_bounds(out: dict[str, np.ndarray], price: np.ndarray) -> np.ndarray:
    """Per runner: every number within what Prediction and PredictionLog accept."""

    def within(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
        return (x >= lo) & (x <= hi)  # False for NaN, as the contract's bounds are

    ok = within(out["sqpe_prob"], 0.0, 1.0) & within(out["tie_intent"], 0.0, 1.0)
    ok &= within(out["final_prob"], 0.0, 1.0) & within(out["nds_signal"], -1.0, 1.0)
    ok &= within(out["stake_fraction"], 0.0, 1.0)
    mp = out["market_prob"]
    ok &= np.isnan(mp) | within(mp, 0.0, 1.0)
    return ok & (np.isnan(price) | (price > 1.0))


_FIELDS = tuple(Prediction.model_fields)
_DEFAULTS = {name: f.default for name, f in Prediction.model_fields.items()
             if not f.is_required() and f.default_factory is None}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Predicted:
    """One prediction as the worker hands it on: the document that
    :meth:`Prediction.encode` writes (the same fields, order and values, so
    the same bytes), built straight from the model's columns.

    Building the contract's nested models (a runner and a recommendation per
    runner) and dumping them again was most of the worker's cost of a card;
    :meth:`contract` builds them only when something asks (POST /predict).
    ``columns`` keeps the per-runner values (``sqpe_prob``, ``tie_intent``,
    ``nds_signal``, ``market_prob``, ``final_prob``, ``price``,
    ``stake_fraction``; None where unknown) for the log rows and monitoring.
    """

    doc: dict[str, Any]
    runner_ids: list[str]
    columns: dict[str, list]

    @property
    def request_id(self) -> str:
        return self.doc["request_id"]

    @property
    def race_id(self) -> str:
        return self.doc["race_id"]

    @property
    def model_name(self) -> str:
        return self.doc["model_name"]

    @property
    def model_version(self) -> str:
        return self.doc["model_version"]

    @property
    def created_at(self) -> datetime:
        return self.doc["created_at"]

    def encode(self) -> bytes:
        return orjson.dumps(self.doc)

    def contract(self) -> Prediction:
        """The validated contract object (raises if the document breaks it)."""
        return Prediction.model_validate(self.doc)


def to_prediction(
    card: RaceCard,
    runner_ids: list[str],
    out: dict[str, list],
    price: list,
    model: VeloModel,
    version: str,
    timings: dict[str, float],
    checked: bool = False,
    emission: Emission | None = None,
    digest: Any = None,
) -> Predicted:
    """One card's prediction from plain per-runner lists (NaN means unknown).

    With an ``emission`` (the stream's), the prediction says which of its
    race's it is; only a final one keeps its stakes, which are decided at
    decision-time prices. Without one (POST /predict) it is a one-off at the
    prices it was given, and keeps them.

    ``checked`` says every number is already known to be in bounds (see
    :func:`_in_bounds`); then the document is written without building and
    validating the contract, which was most of the worker's time per card.
    The strings come from a validated card; what could still break the
    contract is checked here, and anything else goes through validation,
    which raises as it always did.
    """
    rid = request_id(card, emission, digest)
    n = len(runner_ids)
    stakes = out["stake_fraction"] if emission is None or emission.final else [0.0] * n
    market = [None if mp != mp else mp for mp in out["market_prob"]]
    prices = [None if pr != pr else pr for pr in price]
    runners = [
        {
            "runner_id": rid_,
            "sqpe_prob": sq,
            "tie_intent": ti,
            "nds_signal": nd,
            "market_prob": mp,
            "final_prob": fp,
            "price": pr,
            "recommendation": {"side": "back" if st > 0 else "none", "stake_fraction": st},
        }
        for rid_, sq, ti, nd, mp, fp, st, pr in zip(
            runner_ids,
            out["sqpe_prob"],
            out["tie_intent"],
            out["nds_signal"],
            market,
            out["final_prob"],
            stakes,
            prices,
            strict=True,
        )
    ]
    values = {
        "request_id": rid,
        "race_id": card.race_id,
        "model_name": model.name,
        "model_version": version,
        "created_at": datetime.now(UTC),
        "runners": runners,
        "timings_ms": {k: round(v, 3) for k, v in timings.items()},
    }
    if emission is not None:
        mt = emission.market_time
        values |= {
            "sequence": emission.sequence,
            "trigger": emission.trigger,
            "final": emission.final,
            "market_time": None if mt is None else datetime.fromtimestamp(mt, UTC),
        }
    columns = {
        "sqpe_prob": out["sqpe_prob"],
        "tie_intent": out["tie_intent"],
        "nds_signal": out["nds_signal"],
        "market_prob": market,
        "final_prob": out["final_prob"],
        "price": prices,
        "stake_fraction": stakes,
    }
    fast = checked and 1 <= n <= 60 and len(rid) <= 128 and model.name and version
    if fast:
        doc = {k: values[k] if k in values else _DEFAULTS[k] for k in _FIELDS}
    else:  # validation raises on whatever would break the contract
        doc = Prediction(**values).model_dump(mode="python")
    return Predicted(doc, list(runner_ids), columns)


def log_rows(pred: Predicted, is_champion: bool) -> list[PredictionLog]:
    """A log row per runner. The values come from a prediction, whose bounds
    are the log's own, so the rows need no second validation."""
    make = PredictionLog.exact
    version, ts, rid, race = PredictionLog.SCHEMA_VERSION, pred.created_at, pred.request_id, pred.race_id
    name, mv = pred.model_name, pred.model_version
    c = pred.columns
    return [
        make(
            {
                "schema_version": version,
                "timestamp": ts,
                "request_id": rid,
                "race_id": race,
                "horse_id": h,
                "model_name": name,
                "model_version": mv,
                "is_champion": is_champion,
                "sqpe_prob": sq,
                "tie_intent": ti,
                "final_prob": fp,
                "market_prob": mp,
                "price": pr,
                "stake_fraction": st,
                "result_position": None,
                "won": None,
            }
        )
        for h, sq, ti, fp, mp, pr, st in zip(
            pred.runner_ids,
            c["sqpe_prob"],
            c["tie_intent"],
            c["final_prob"],
            c["market_prob"],
            c["price"],
            c["stake_fraction"],
            strict=True,
        )
    ]


@dataclass
class CardInputs:
    """The model's input arrays for a batch of cards, built once and shared by
    the champion and the shadow challenger."""

    cards: list[RaceCard]
    runner_ids: list[list[str]]
    race: np.ndarray
    sqpe: np.ndarray
    tie: np.ndarray
    market: np.ndarray
    price: np.ndarray
    build_ms: float
    #: what each card's prediction is (its race's sequence, trigger, market
    #: state); None for a one-off (POST /predict)
    emissions: list[Emission] | None = None
    #: each card's :func:`card_digest`, where the caller computed them
    digests: list[Any] | None = None


def card_inputs(
    cards: list[RaceCard],
    feats: list[RaceFeatures],
    markets: list[RaceMarket | None],
    emissions: list[Emission] | None = None,
    digests: list[Any] | None = None,
) -> CardInputs:
    t0 = time.perf_counter()
    sizes = [len(f.runner_ids) for f in feats]
    return CardInputs(
        cards=cards,
        runner_ids=[f.runner_ids for f in feats],
        race=np.repeat(np.arange(len(cards)), sizes),
        sqpe=np.vstack([f.sqpe for f in feats]),
        tie=np.vstack([f.tie for f in feats]),
        market=np.vstack([market_view(m, c) for c, m in zip(cards, markets, strict=True)]),
        price=np.concatenate([decision_prices(c, m) for c, m in zip(cards, markets, strict=True)]),
        build_ms=(time.perf_counter() - t0) * 1e3,
        emissions=emissions,
        digests=digests,
    )


def score_cards(inputs: CardInputs, model: VeloModel, version: str) -> list[Predicted]:
    """Many cards in one model pass (the stream micro-batches; HTTP passes one)."""
    emissions = inputs.emissions
    t0 = time.perf_counter()
    out = model.predict_arrays(inputs.race, inputs.sqpe, inputs.tie, inputs.market, inputs.price)
    n = len(inputs.cards)
    timings = {"frame": inputs.build_ms / n, "model": (time.perf_counter() - t0) * 1e3 / n, "batch_size": float(n)}
    cols = {k: v.tolist() for k, v in out.items()}
    price = inputs.price.tolist()
    ok = _in_bounds(out, inputs.price)
    preds, start = [], 0
    for i, (card, ids) in enumerate(zip(inputs.cards, inputs.runner_ids, strict=True)):
        end = start + len(ids)
        part = {k: v[start:end] for k, v in cols.items()}
        checked = bool(ok[start:end].all())
        preds.append(
            to_prediction(
                card,
                ids,
                part,
                price[start:end],
                model,
                version,
                timings,
                checked,
                None if emissions is None else emissions[i],
                None if inputs.digests is None else inputs.digests[i],
            )
        )
        start = end
    return preds
