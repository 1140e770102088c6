"""Race-level probability metrics and betting results.

Benter's measure: the mean log-likelihood of the winners, and pseudo-R² =
1 - LL_model / LL_uniform, where the uniform model gives each runner 1/field.
Dead heats count each winner with weight 1/(number of winners).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from velo.engines.race import EPS, race_index


def _winner_weights(won: np.ndarray, race: np.ndarray) -> np.ndarray:
    winners = np.bincount(race, weights=won, minlength=race.max() + 1)
    return np.where(won > 0, 1.0 / np.maximum(winners[race], 1), 0.0)


def race_scores(prob: np.ndarray, won: np.ndarray, race_ids: np.ndarray) -> dict[str, float]:
    """logloss (per race), pseudo_r2, n_races, brier, top1 hit rate. Races
    without a winner or with any missing probability are left out."""
    prob = np.asarray(prob, dtype=float)
    won = np.asarray(won, dtype=float)
    race = race_index(np.asarray(race_ids))
    n = race.max() + 1
    bad = np.bincount(race, weights=~np.isfinite(prob), minlength=n) > 0
    has_winner = np.bincount(race, weights=won, minlength=n) > 0
    keep_race = ~bad & has_winner
    rows = keep_race[race]
    if not rows.any():
        return {"logloss": float("nan"), "pseudo_r2": float("nan"), "n_races": 0, "brier": float("nan"),
                "top1": float("nan")}  # fmt: skip
    p, y, r = prob[rows], won[rows], race_index(race[rows])
    total = np.bincount(r, weights=p)
    p = p / total[r]
    w = _winner_weights(y, r)
    k = r.max() + 1
    ll = -np.bincount(r, weights=w * np.log(np.clip(p, EPS, 1.0)), minlength=k)
    field = np.bincount(r, minlength=k)
    ll_uniform = np.log(field)
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


def _max_drawdown(cum: np.ndarray) -> float:
    """Largest fall from a running peak of a cumulative P&L curve (units)."""
    if len(cum) == 0:
        return 0.0
    peak = np.maximum.accumulate(np.concatenate([[0.0], cum]))[1:]
    return float(np.max(peak - cum))


def betting(
    frame: pd.DataFrame,
    stake: np.ndarray,
    price: np.ndarray,
    won: np.ndarray,
    flat_mask: np.ndarray,
    commission: float = 0.05,
) -> dict[str, dict[str, float]]:
    """Flat (1 unit on every recommended bet) and Kelly (bankroll fractions,
    compounding in off-time order) results. Prices must be decision-time.

    Settled per race, as an exchange settles a market: ``commission`` (5%,
    Betfair's base rate) is taken from a race's net winnings, never from a
    loss. The curves have one point per race with a bet."""
    order = np.argsort(frame["off_time"].to_numpy(), kind="stable")
    price, won, stake, flat_mask = price[order], won[order], stake[order], flat_mask[order]
    race = frame["race_id"].to_numpy()[order]
    ok = np.isfinite(price) & (price > 1)
    flat = flat_mask & ok
    ret = np.where(won > 0, np.where(ok, price, 1.0) - 1.0, -1.0)  # per unit staked
    # races in off-time order: a new race starts where the id changes
    starts = np.flatnonzero(np.r_[True, race[1:] != race[:-1]]) if len(race) else np.empty(0, dtype=int)
    race_no = np.cumsum(np.r_[True, race[1:] != race[:-1]]) - 1 if len(race) else np.empty(0, dtype=int)
    n_races = len(starts)

    def settle(gross: np.ndarray) -> np.ndarray:
        return gross - commission * np.maximum(gross, 0.0)

    flat_net = settle(np.bincount(race_no, np.where(flat, ret, 0.0), minlength=n_races))
    with_bet = np.bincount(race_no, flat.astype(float), minlength=n_races) > 0
    cum = np.cumsum(flat_net[with_bet])
    race_time = frame["off_time"].to_numpy()[order][starts] if n_races else np.empty(0)
    flat_res = {
        "bets": int(flat.sum()),
        "turnover": float(flat.sum()),
        "profit": float(flat_net.sum()),
        "roi": float(flat_net.sum() / flat.sum()) if flat.any() else float("nan"),
        "max_drawdown": _max_drawdown(cum),
        "commission": commission,
    }
    # Kelly: stakes within a race share the bankroll at the race's start.
    bank, peak, max_dd, turnover = 1.0, 1.0, 0.0, 0.0
    s = np.where(ok, stake, 0.0)
    n_bets = int((s > 0).sum())
    kelly_curve: list[float] = []
    kelly_time: list = []
    ends = np.r_[starts[1:], len(race)] if n_races else np.empty(0, dtype=int)
    for k, (a, b) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        if not (s[a:b] > 0).any():
            continue
        amount = bank * s[a:b]
        turnover += float(amount.sum())
        bank += float(settle(np.array([(amount * ret[a:b]).sum()]))[0])
        peak = max(peak, bank)
        max_dd = max(max_dd, (peak - bank) / peak)
        kelly_curve.append(bank)
        kelly_time.append(race_time[k])
    kelly_res = {
        "bets": n_bets,
        "turnover": float(turnover),
        "profit": float(bank - 1.0),
        "roi": float((bank - 1.0) / turnover) if turnover > 0 else float("nan"),
        "max_drawdown": float(max_dd),
        "final_bankroll": float(bank),
        "commission": commission,
    }
    # each point's race off time, so the plots can be drawn over dates
    times = {"flat_time": [str(t) for t in race_time[with_bet]], "kelly_time": [str(t) for t in kelly_time]}
    return {"flat": flat_res, "kelly": kelly_res,
            "_curves": {"flat": cum.tolist(), "kelly": kelly_curve, **times}}  # fmt: skip
