"""NDS: heuristic market-movement signals, each bounded in [-1, 1].

Positive means money for the runner. Signals, from the race's market state at
decision time:

- ``steam``: relative shortening since the first price seen,
  ``tanh(3 * (first - now) / first)``; a drift is negative.
- ``late``: the same over the last ``late_window`` seconds only.
- ``volume``: share of the race's traded volume against the share the price
  implies, ``tanh(log(vol_share / implied_share) / 2)``; 0 without volume.
- ``overround``: the race's book percentage above 1 + the usual margin,
  ``-tanh(10 * (book - 1 - margin))``, the same for every runner (a wide book
  makes every price less trustworthy).
- ``spread``: the runner's back-lay spread, ``-tanh(3 * log(lay / back))``:
  0 for a tight market, toward -1 for a thin one; 0 without a lay price. It
  says how far the price may still move, not which way, so its weight in
  ``nds_signal`` is 0; the orchestrator uses it directly (with the market:
  on Betfair ANZ the lay side and the spread anticipate part of the move from
  the scheduled off to BSP).

``nds_signal`` is ``tanh`` of their weighted sum, so it stays in [-1, 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from velo.markets.state import RaceMarket

SIGNALS = ["steam", "late", "volume", "overround", "spread"]
#: Column names of the signals in training and serving frames.
NDS_COLUMNS = [f"nds_{s}" for s in SIGNALS]


@dataclass(frozen=True)
class NDS:
    late_window: float = 600.0
    usual_margin: float = 0.05
    weights: tuple[float, ...] = (0.5, 0.8, 0.3, 0.2, 0.0)

    def signals(self, market: RaceMarket | None, runner_ids: list[str], at: float) -> np.ndarray:
        """(n_runners x 5) signals; zeros where the market has no data."""
        out = np.zeros((len(runner_ids), len(SIGNALS)))
        if market is None:
            return out
        rms = [market.runners.get(r) for r in runner_ids]
        prices = [rm.price if rm and rm.price else None for rm in rms]
        implied = np.array([1.0 / p if p else 0.0 for p in prices])
        book = implied.sum()
        total_vol = sum(rm.volume for rm in rms if rm)
        for i, rm in enumerate(rms):
            if rm is None or rm.price is None:
                continue
            if rm.first_price:
                out[i, 0] = math.tanh(3.0 * (rm.first_price - rm.price) / rm.first_price)
            before = [p for t, p in rm.path if t <= at - self.late_window]
            ref = before[-1] if before else rm.first_price
            if ref:
                out[i, 1] = math.tanh(3.0 * (ref - rm.price) / ref)
            if total_vol > 0 and rm.volume > 0 and book > 0:
                share = rm.volume / total_vol
                out[i, 2] = math.tanh(math.log(share / (implied[i] / book)) / 2.0)
            if rm.back and rm.lay and rm.lay >= rm.back:
                out[i, 4] = -math.tanh(3.0 * math.log(rm.lay / rm.back))
        if book > 0 and all(prices):
            out[:, 3] = -math.tanh(10.0 * (book - 1.0 - self.usual_margin))
        return out

    def combine(self, signals: np.ndarray) -> np.ndarray:
        """A model saved before a signal was added has fewer weights: the
        new signals weigh 0 in it."""
        w = np.zeros(signals.shape[1])
        w[: len(self.weights)] = self.weights
        return np.tanh(signals @ w)


def market_probs(market: RaceMarket | None, runner_ids: list[str], card_prices: list[float | None]) -> np.ndarray:
    """Market-implied win probabilities (overround removed), NaN where unknown.

    Best back price from the market state, else the card's price. If any
    runner lacks a price the race has no market probability at all.
    """
    prices = market_prices(market, runner_ids, card_prices)
    if prices is None:
        return np.full(len(runner_ids), np.nan)
    inv = 1.0 / np.asarray(prices, dtype=float)
    return inv / inv.sum()


def market_prices(market: RaceMarket | None, runner_ids: list[str],
                  card_prices: list[float | None]) -> list[float] | None:  # fmt: skip
    """The price :func:`market_probs` uses per runner, or None where the race
    has no market probability (a runner without a price above 1)."""
    prices = []
    runners = market.runners if market else {}
    for rid, card_price in zip(runner_ids, card_prices, strict=True):
        rm = runners.get(rid)
        p = rm.price if rm and rm.price else card_price
        if p is None or p <= 1.0:
            return None
        prices.append(p)
    return prices or None
