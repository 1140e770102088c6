"""The market view: the same columns the models were trained on, at the card's decision time."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from schemas import MarketUpdate
from schemas.examples import race_card
from velo.engines.nds import NDS
from velo.markets.prices import market_probs
from velo.markets.state import RaceMarket
from velo.markets.view import DECISION_LEAD, MARKET_COLUMNS, market_view

CARD = race_card()


def test_the_view_is_the_market_probability_then_the_signals_at_the_decision_time() -> None:
    m = RaceMarket(CARD.race_id)
    for minutes, price in ((30, 4.0), (2, 3.0)):
        at = CARD.race.off_time - timedelta(minutes=minutes)
        m.apply(MarketUpdate(race_id=CARD.race_id, runner_id=CARD.runners[0].runner_id, publish_time=at,
                             back_price=price, lay_price=price * 1.05))  # fmt: skip
    view = market_view(m, CARD)
    ids = [r.runner_id for r in CARD.runners]
    assert view.shape == (len(ids), len(MARKET_COLUMNS))
    np.testing.assert_array_equal(view[:, 0], market_probs(m, ids, [r.price for r in CARD.runners]))
    decision = CARD.race.off_time.timestamp() - DECISION_LEAD
    np.testing.assert_array_equal(view[:, 1:], NDS().signals(m, ids, decision))
    assert view[0, 1] > 0  # shortened from 4.0 to 3.0: money for it
