"""The market's two price rules: its probability reads what the market shows,
a stake only what a bettor could take."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from schemas import MarketUpdate
from schemas.examples import race_card
from velo.markets.prices import decision_prices, market_prices, market_probs
from velo.markets.state import RaceMarket

CARD = race_card()
IDS = [r.runner_id for r in CARD.runners]
CARD_PRICES = [r.price for r in CARD.runners]


def _market(**prices: dict) -> RaceMarket:
    m = RaceMarket(CARD.race_id)
    at = CARD.race.off_time - timedelta(minutes=5)
    for runner, kw in prices.items():
        m.apply(MarketUpdate(race_id=CARD.race_id, runner_id=runner, publish_time=at, **kw))
    return m


def test_a_last_traded_price_moves_the_market_probability_but_is_never_staked_at() -> None:
    first = IDS[0]
    m = _market(**{first: {"last_traded_price": 2.0}})
    assert market_prices(m, IDS, CARD_PRICES)[0] == 2.0
    assert decision_prices(CARD, m)[0] == CARD_PRICES[0]
    m = _market(**{first: {"back_price": 2.5, "last_traded_price": 2.0}})
    assert market_prices(m, IDS, CARD_PRICES)[0] == decision_prices(CARD, m)[0] == 2.5


def test_market_probabilities_sum_to_one_and_need_every_runner_priced() -> None:
    p = market_probs(None, IDS, CARD_PRICES)
    assert np.isclose(p.sum(), 1.0)
    assert np.isnan(market_probs(None, IDS, [None, *CARD_PRICES[1:]])).all()
    unpriced = CARD.runners[0].model_copy(update={"price": None})
    assert np.isnan(decision_prices(CARD.model_copy(update={"runners": [unpriced]}), None)).all()
