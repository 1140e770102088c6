"""Recommendation: back when the edge, net of commission, clears a threshold;
stake by fractional Kelly.

An edge is only as good as the probability behind it. The orchestrator falls
back to the market when the engines add nothing out of sample, so its edges
are then zero and nothing is staked; and no bet is struck above
``max_price``, where a probability of a few tenths of a percent is too small
to be calibrated from a few thousand races (the demo once backed 1000/1
shots on a 0.2% model error).

Nor is anything staked in a race whose decision-time back book is below
``min_book`` (the prices offer an arbitrage). Such a book does not describe
the race as it was run: in Betfair ANZ, whose files list only the runners
that ran, 176 of 8,024 races from 2025-07 have a back book under 0.952 (down
to 0.33) at the scheduled off, the mark of runners withdrawn after the
snapshot. A bet struck then has its price cut by the withdrawn runners'
reduction factors, so settling it at the snapshot price counts a profit no
one was paid; a market-only model "won" 32% on such bets.
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
    min_book: float = 1.0  # no bets in a race whose back book (sum of 1/price) is below this

    def stakes(self, prob: np.ndarray, price: np.ndarray, race: np.ndarray | None = None) -> np.ndarray:
        """Bankroll fractions; 0 where there is no bet or no price. With
        ``race`` (0..k-1 per row), races with a book under ``min_book`` get
        none."""
        price = np.asarray(price, dtype=float)
        ok = np.isfinite(price) & (price > 1.0) & (price <= self.max_price)
        if race is not None and len(price):
            inv = np.where(np.isfinite(price) & (price > 1.0), 1.0 / np.where(price > 1.0, price, 2.0), 0.0)
            ok &= np.bincount(race, weights=inv)[race] >= self.min_book
        net = np.where(ok, (np.where(ok, price, 2.0) - 1.0) * (1.0 - self.commission), 1.0)  # net odds won per unit
        edge = np.where(ok, prob * (1.0 + net) - 1.0, -1.0)
        kelly = np.where(ok, edge / net, 0.0)
        bet = edge > self.threshold
        return np.where(bet, np.minimum(self.cap, self.kelly_fraction * np.maximum(kelly, 0.0)), 0.0)
