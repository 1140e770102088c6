"""Recommendation: back when the edge, net of commission, clears a threshold;
stake by fractional Kelly.

An edge is only as good as the probability behind it. The orchestrator falls
back to the market when the engines add nothing out of sample, so its edges
are then zero and nothing is staked; and no bet is struck above
``max_price``, where a probability of a few tenths of a percent is too small
to be calibrated from a few thousand races (the demo once backed 1000/1
shots on a 0.2% model error).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Staking:
    threshold: float = 0.05  # back when p * net odds + p > 1 + threshold
    kelly_fraction: float = 0.25
    cap: float = 0.05  # never more than this share of bankroll on one runner
    commission: float = 0.05  # the exchange's share of net winnings (Betfair's base rate)
    max_price: float = 50.0  # no bets on longer prices

    def stakes(self, prob: np.ndarray, price: np.ndarray) -> np.ndarray:
        """Bankroll fractions; 0 where there is no bet or no price."""
        price = np.asarray(price, dtype=float)
        ok = np.isfinite(price) & (price > 1.0) & (price <= self.max_price)
        net = np.where(ok, (np.where(ok, price, 2.0) - 1.0) * (1.0 - self.commission), 1.0)  # net odds won per unit
        edge = np.where(ok, prob * (1.0 + net) - 1.0, -1.0)
        kelly = np.where(ok, edge / net, 0.0)
        bet = edge > self.threshold
        return np.where(bet, np.minimum(self.cap, self.kelly_fraction * np.maximum(kelly, 0.0)), 0.0)
