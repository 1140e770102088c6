"""What the market's prices mean, in one place, with its two rules:

- the market's probability of each runner (:func:`market_probs`) reads the
  best back price, else the last traded one, else the card's price: the
  market's opinion, wherever it shows;
- the price a prediction's stakes are decided at (:func:`decision_prices`)
  reads the best back price, else the card's: what a bettor could take.
"""

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


def market_prices(
    market: RaceMarket | None, runner_ids: list[str], card_prices: list[float | None]
) -> list[float] | None:
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
