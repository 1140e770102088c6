"""NDS: the market-movement signals combined into one, in [-1, 1].

The signals are the market's own (:mod:`velo.markets.signals` says what each
one is). NDS holds their parameters and weights, so a saved model keeps the
ones it was trained with. ``nds_signal`` is ``tanh`` of their weighted sum.
Positive means money for the runner.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from velo.markets.prices import market_prices, market_probs
from velo.markets.signals import LATE_WINDOW, SIGNALS, USUAL_MARGIN, market_signals
from velo.markets.signals import SIGNAL_COLUMNS as NDS_COLUMNS
from velo.markets.state import RaceMarket

__all__ = ["NDS", "NDS_COLUMNS", "SIGNALS", "market_prices", "market_probs"]


@dataclass(frozen=True)
class NDS:
    late_window: float = LATE_WINDOW
    usual_margin: float = USUAL_MARGIN
    weights: tuple[float, ...] = (0.5, 0.8, 0.3, 0.2, 0.0)

    def signals(self, market: RaceMarket | None, runner_ids: list[str], at: float) -> np.ndarray:
        """(n_runners x 5) signals with this model's parameters."""
        return market_signals(market, runner_ids, at, self.late_window, self.usual_margin)

    def combine(self, signals: np.ndarray) -> np.ndarray:
        """A model saved before a signal was added has fewer weights: the
        new signals weigh 0 in it."""
        w = np.zeros(signals.shape[1])
        w[: len(self.weights)] = self.weights
        return np.tanh(signals @ w)
