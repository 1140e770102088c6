"""How good win probabilities are: one home for the measures that the
backtest, champion/challenger comparison and live monitoring all report, so
the three can never disagree on a convention.

Benter's measure: the mean log-likelihood of the winners, and pseudo-R² =
1 - LL_model / LL_uniform, where the uniform model gives each runner 1/field.
Probabilities are normalised within each race; dead heats count each winner
with weight 1/(number of winners). A race is left out when it has no winner,
any missing probability, or no positive probability at all.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from velo.engines.race import EPS, race_index


def winner_weights(won: np.ndarray, race: np.ndarray) -> np.ndarray:
    """Each row's weight as a winner: 1/(winners in its race), 0 for losers."""
    winners = np.bincount(race, weights=won, minlength=race.max() + 1)
    return np.where(won > 0, 1.0 / np.maximum(winners[race], 1), 0.0)


def _usable(prob: np.ndarray, won: np.ndarray, race: np.ndarray) -> np.ndarray:
    """Per race (numbered by ``race``): may it be scored?"""
    n = race.max() + 1
    bad = np.bincount(race, weights=~np.isfinite(prob), minlength=n) > 0
    has_winner = np.bincount(race, weights=won, minlength=n) > 0
    total = np.bincount(race, weights=np.where(np.isfinite(prob), prob, 0.0), minlength=n)
    return ~bad & has_winner & (total > 0)


def _scored_rows(prob: Any, won: Any, race_ids: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The usable races' rows: probabilities normalised within the race, the
    outcomes, the races renumbered 0..k-1, and each new number's race id."""
    prob, won, race_ids = np.asarray(prob, dtype=float), np.asarray(won, dtype=float), np.asarray(race_ids)
    if len(prob) == 0:
        return prob, won, np.zeros(0, dtype=np.intp), race_ids[:0]
    race = race_index(race_ids)
    rows = _usable(prob, won, race)[race]
    p, y, ids = prob[rows], won[rows], race_ids[rows]
    r = race_index(ids)
    keys = np.empty(r.max() + 1 if len(r) else 0, dtype=object)
    keys[r] = ids
    return p / np.bincount(r, weights=p)[r], y, r, keys


def _logloss_by_race(p: np.ndarray, y: np.ndarray, r: np.ndarray) -> np.ndarray:
    w = winner_weights(y, r)
    return -np.bincount(r, weights=w * np.log(np.clip(p, EPS, 1.0)), minlength=r.max() + 1)


def race_scores(prob: np.ndarray, won: np.ndarray, race_ids: np.ndarray) -> dict[str, float]:
    """logloss (per race), pseudo_r2, n_races, brier, top1 hit rate, over the
    usable races."""
    p, y, r, _ = _scored_rows(prob, won, race_ids)
    if len(r) == 0:
        return {
            "logloss": float("nan"),
            "pseudo_r2": float("nan"),
            "n_races": 0,
            "brier": float("nan"),
            "top1": float("nan"),
        }
    k = r.max() + 1
    ll = _logloss_by_race(p, y, r)
    ll_uniform = np.log(np.bincount(r, minlength=k))
    top = np.full(k, -np.inf)
    np.maximum.at(top, r, p)
    pick = (p == top[r]) & (y > 0)
    return {
        "logloss": float(ll.mean()),
        "pseudo_r2": float(1.0 - ll.sum() / ll_uniform.sum()),
        "n_races": int(k),
        "brier": float(((p - y) ** 2).mean()),
        "top1": float(np.minimum(np.bincount(r, weights=pick, minlength=k), 1).mean()),
    }


def per_race_logloss(prob: np.ndarray, won: np.ndarray, race_ids: np.ndarray) -> pd.Series:
    """Each usable race's log-loss, indexed by race id in order of appearance
    (the unit of evidence when two models are compared race by race)."""
    p, y, r, keys = _scored_rows(prob, won, race_ids)
    if len(r) == 0:
        return pd.Series([], dtype=float, index=pd.Index([], name="race_id"))
    return pd.Series(_logloss_by_race(p, y, r), index=pd.Index(keys, name="race_id"))


def race_logloss(prob: np.ndarray, won: np.ndarray) -> float:
    """One race's log-loss (NaN if the race is not usable): what the live
    monitor adds as each result comes in."""
    p, y, r, _ = _scored_rows(prob, won, np.zeros(len(np.asarray(prob)), dtype=np.intp))
    return float(_logloss_by_race(p, y, r)[0]) if len(r) else float("nan")


def calibration(prob: np.ndarray, won: np.ndarray, bins: int = 10) -> tuple[list[dict[str, float]], float]:
    """Quantile-binned calibration table and expected calibration error."""
    prob, won = np.asarray(prob, dtype=float), np.asarray(won, dtype=float)
    ok = np.isfinite(prob)
    prob, won = prob[ok], won[ok]
    if len(prob) == 0:
        return [], float("nan")
    edges = np.unique(np.quantile(prob, np.linspace(0, 1, bins + 1)))
    idx = np.clip(np.searchsorted(edges, prob, side="right") - 1, 0, len(edges) - 2)
    table, ece = [], 0.0
    for b in range(len(edges) - 1):
        m = idx == b
        if not m.any():
            continue
        mp, mw = float(prob[m].mean()), float(won[m].mean())
        table.append({"p_mean": mp, "win_rate": mw, "n": int(m.sum())})
        ece += m.sum() / len(prob) * abs(mp - mw)
    return table, float(ece)


def json_safe(obj: Any) -> Any:
    """``obj`` with NaN and infinities as None, numpy scalars as Python ones,
    tuples as lists and keys starting with ``_`` (working values) left out:
    strict JSON, which ``json.dumps`` alone does not write."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items() if not str(k).startswith("_")}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        return json_safe(obj.item())
    return obj
