"""Walk-forward backtest: for each test period, train only on what came
before it, predict it, and score model, SQPE and market side by side."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from velo.backtest.metrics import betting
from velo.engines.race import race_index
from velo.metrics import calibration, race_scores
from velo.training.pipeline import TrainConfig, fit_model
from velo.training.splits import period_label


def market_final_prob(frame: pd.DataFrame) -> np.ndarray:
    """Market-implied probabilities from the final price (benchmark only)."""
    inv = 1.0 / frame["price_final"].to_numpy(dtype=float)
    race = race_index(frame["race_id"].to_numpy())
    total = np.bincount(race, weights=np.nan_to_num(inv, nan=0.0))
    missing = np.bincount(race, weights=np.isnan(inv).astype(float)) > 0
    return np.where(missing[race], np.nan, inv / total[race])


def score(pred: pd.DataFrame, truth: pd.DataFrame, commission: float = 0.05) -> dict:
    """Every metric for one set of predictions (aligned rows); bets pay
    ``commission`` on each race's net winnings."""
    won = truth["won"].to_numpy(dtype=float)
    rid = truth["race_id"].to_numpy()
    out: dict = {}
    for label, col in (
        ("model", "final_prob"),
        ("sqpe", "sqpe_prob"),
        ("market_pre", "market_prob"),
        ("market_final", "market_final_prob"),
    ):
        probs = pred[col].to_numpy(dtype=float)
        if np.isfinite(probs).any():
            out[label] = race_scores(probs, won, rid)
    table, ece = calibration(pred["final_prob"].to_numpy(), won)
    out["calibration"] = {"table": table, "ece": ece}
    fav = "market_pre" if "market_pre" in out else "market_final" if "market_final" in out else None
    out["favourite_top1"] = out[fav]["top1"] if fav else None
    price = truth["price_pre"].to_numpy(dtype=float)
    if np.isfinite(price).any():
        stake = pred["stake_fraction"].to_numpy()
        bets = betting(truth, stake, price, won, stake > 0, commission)
        out["betting"] = {k: v for k, v in bets.items() if not k.startswith("_")}
        out["_curves"] = bets["_curves"]
    else:
        out["betting"] = None  # no decision-time prices: nothing can be bet honestly
    return out


def walk_forward(
    frame: pd.DataFrame,
    test_from: pd.Timestamp,
    test_until: pd.Timestamp | None = None,
    period: str = "season",
    config: TrainConfig | None = None,
    permute_labels_seed: int | None = None,
    on_period: Callable[[str, dict], None] | None = None,
) -> tuple[dict, pd.DataFrame]:
    """Returns the report dict and the per-runner out-of-sample predictions.

    With ``permute_labels_seed`` the winners are shuffled within each training
    race (a leakage check: the model must then show no skill).
    """
    commission = (config or TrainConfig()).staking.commission
    frame = frame.sort_values(["off_time", "race_id", "runner_id"], kind="stable").reset_index(drop=True)
    frame = frame.assign(market_final_prob=market_final_prob(frame))
    labels = period_label(frame["off_time"], period)
    test_mask = frame["off_time"] >= test_from
    if test_until is not None:
        test_mask &= frame["off_time"] < test_until
    periods = sorted(labels[test_mask].unique())
    if not periods:
        raise ValueError(f"no races to test from {test_from} to {test_until}")
    preds, period_reports = [], []
    for p in periods:
        rows = test_mask & (labels == p)
        start = frame.loc[rows, "off_time"].min()
        train = frame[frame["off_time"] < start]
        if permute_labels_seed is not None:
            train = _permute_winners(train, permute_labels_seed)
        model, info = fit_model(train, config)
        test = frame[rows]
        pred = model.predict_frame(test)
        pred["market_final_prob"] = test["market_final_prob"].to_numpy()
        pred["off_time"] = test["off_time"].to_numpy()
        pred["period"] = p
        preds.append(pred)
        rep = {
            "period": p,
            "train_races": int(train["race_id"].nunique()),
            "train_to": str(train["off_time"].max()),
            "test_from": str(start),
            **score(pred, test, commission),
            "coefficients": info["orchestrator"],
        }
        rep.pop("_curves", None)
        period_reports.append(rep)
        if on_period:
            on_period(p, rep)
    all_pred = pd.concat(preds)
    overall = score(all_pred, frame.loc[all_pred.index], commission)
    curves = overall.pop("_curves", None)
    report = {
        "overall": overall,
        "periods": period_reports,
        "settings": {
            "test_from": str(test_from),
            "test_until": str(test_until),
            "period": period,
            "permute_labels_seed": permute_labels_seed,
        },
        "_curves": curves,
    }
    return report, all_pred


def _permute_winners(train: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    train = train.copy()
    for col in ("won", "position"):
        train[col] = train.groupby("race_id")[col].transform(lambda s: rng.permutation(s.to_numpy()))
    return train
