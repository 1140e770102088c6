"""The price a prediction's stakes are decided at."""

from __future__ import annotations

import numpy as np

from schemas import RaceCard
from velo.markets.state import RaceMarket


def decision_prices(card: RaceCard, market: RaceMarket | None) -> np.ndarray:
    """Best back price from the market state, else the card's price (NaN if
    neither): what a bettor could take. The stream's predictions and the
    offline training set both price with this."""
    prices = []
    for r in card.runners:
        rm = market.runners.get(r.runner_id) if market else None
        price = rm.back if rm and rm.back else r.price
        prices.append(np.nan if price is None else price)
    return np.asarray(prices, dtype=float)
