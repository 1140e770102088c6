"""Recommendation: back when the edge clears a threshold; stake by fractional Kelly."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Staking:
    threshold: float = 0.05  # back when p * price > 1 + threshold
    kelly_fraction: float = 0.25
    cap: float = 0.05  # never more than this share of bankroll on one runner

    def stakes(self, prob: np.ndarray, price: np.ndarray) -> np.ndarray:
        """Bankroll fractions; 0 where there is no bet or no price."""
        price = np.asarray(price, dtype=float)
        ok = np.isfinite(price) & (price > 1.0)
        edge = np.where(ok, prob * np.where(ok, price, 2.0) - 1.0, -1.0)
        kelly = np.where(ok, edge / np.where(ok, price - 1.0, 1.0), 0.0)
        bet = edge > self.threshold
        return np.where(bet, np.minimum(self.cap, self.kelly_fraction * np.maximum(kelly, 0.0)), 0.0)
