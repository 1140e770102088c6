"""Market-movement signals: bounded, zero without data, parameters honoured."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from schemas import MarketUpdate
from schemas.examples import race_card
from velo.markets.signals import SIGNALS, market_signals
from velo.markets.state import RaceMarket

CARD = race_card()
IDS = [r.runner_id for r in CARD.runners]


def _moved(first: float, now: float, at_first: float, at_now: float) -> RaceMarket:
    m = RaceMarket(CARD.race_id)
    for t, price in ((at_first, first), (at_now, now)):
        at = datetime.fromtimestamp(t, UTC)
        m.apply(MarketUpdate(race_id=CARD.race_id, runner_id=IDS[0], publish_time=at, back_price=price))
    return m


def test_no_market_no_signal() -> None:
    assert not market_signals(None, IDS, 0.0).any()


def test_the_late_window_decides_what_counts_as_late() -> None:
    m = _moved(4.0, 3.0, 1_000.0, 1_900.0)
    late = SIGNALS.index("late")
    # the move happened 100 s before the decision at 2,000: late for a 600 s window
    assert market_signals(m, IDS, 2_000.0, late_window=600.0)[0, late] > 0
    # with a 50 s window, the last price before the window is already the new one
    assert market_signals(m, IDS, 2_000.0, late_window=50.0)[0, late] == 0
    out = market_signals(m, IDS, 2_000.0)
    assert np.all(np.abs(out) <= 1)
