"""Market-movement signals, each bounded in [-1, 1]: what the market's own
shape and motion say about each runner (NDS weighs them, see
:mod:`velo.engines.nds`).

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
"""

from __future__ import annotations

import math

import numpy as np

from velo.markets.state import RaceMarket

SIGNALS = ["steam", "late", "volume", "overround", "spread"]
#: Column names of the signals in training and serving frames.
SIGNAL_COLUMNS = [f"nds_{s}" for s in SIGNALS]
#: Seconds before the decision that ``late`` looks back.
LATE_WINDOW = 600.0
#: The book's usual margin over 1 (``overround`` counts only what is above it).
USUAL_MARGIN = 0.05


def market_signals(
    market: RaceMarket | None,
    runner_ids: list[str],
    at: float,
    late_window: float = LATE_WINDOW,
    usual_margin: float = USUAL_MARGIN,
) -> np.ndarray:
    """(n_runners x 5) signals at time ``at``; zeros where the market has no data."""
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
        before = [p for t, p in rm.path if t <= at - late_window]
        ref = before[-1] if before else rm.first_price
        if ref:
            out[i, 1] = math.tanh(3.0 * (ref - rm.price) / ref)
        if total_vol > 0 and rm.volume > 0 and book > 0:
            share = rm.volume / total_vol
            out[i, 2] = math.tanh(math.log(share / (implied[i] / book)) / 2.0)
        if rm.back and rm.lay and rm.lay >= rm.back:
            out[i, 4] = -math.tanh(3.0 * math.log(rm.lay / rm.back))
    if book > 0 and all(prices):
        out[:, 3] = -math.tanh(10.0 * (book - 1.0 - usual_margin))
    return out
