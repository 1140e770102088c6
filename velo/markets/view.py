"""The market as the models see it: one row per runner, the market's
probability followed by the movement signals, at the card's decision time.
The stream scores with it and the offline replay builds its training set
with it: one implementation."""

from __future__ import annotations

import numpy as np

from schemas import RaceCard
from velo.markets.prices import market_probs
from velo.markets.signals import LATE_WINDOW, SIGNAL_COLUMNS, USUAL_MARGIN, market_signals
from velo.markets.state import RaceMarket

#: The view's columns, in order.
MARKET_COLUMNS = ["market_prob", *SIGNAL_COLUMNS]
#: Seconds before the off that a card's prediction is decided at.
DECISION_LEAD = 60.0


def market_view(
    market: RaceMarket | None, card: RaceCard, late_window: float = LATE_WINDOW, usual_margin: float = USUAL_MARGIN
) -> np.ndarray:
    """(n_runners x 6): the market probability, then the signals."""
    ids = [r.runner_id for r in card.runners]
    probs = market_probs(market, ids, [r.price for r in card.runners])
    decision = card.race.off_time.timestamp() - DECISION_LEAD
    signals = market_signals(market, ids, decision, late_window, usual_margin)
    return np.column_stack([probs, signals])
