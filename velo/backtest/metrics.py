"""Betting results of a backtest. The probability measures live in
:mod:`velo.metrics` (re-exported here for existing callers)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from velo.metrics import calibration, race_scores

__all__ = ["betting", "calibration", "race_scores"]


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
    return {"flat": flat_res, "kelly": kelly_res, "_curves": {"flat": cum.tolist(), "kelly": kelly_curve, **times}}
