"""The form book's speed figures against a brute-force reading of their definition.

The engine computes figures for many cards at once, from interned keys and
array lookups; this recomputes each one from the raw cards and results with
plain loops, straight from the definition in ``velo.features.formbook``: the
par of a race type is the mean of earlier winners' times (at least
``MIN_PAR_RACES`` of them, read as of the card's cutoff), a course's daily
variant is the mean deviation of that day's winners from their pars shrunk by
one pseudo-race, and a run's figure is minus its deviation from par, less the
variant, in seconds per km.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from schemas import RaceCard, RaceResult
from velo.data.events import Event
from velo.features import SQPE_FEATURES, FeatureEngine, MemoryStore
from velo.features.formbook import MIN_PAR_RACES, open_key, par_key
from velo.features.offline import replay
from velo.features.records import DAY, cutoff_ts
from velo.sim import SimConfig, simulate


@pytest.fixture(scope="module")
def events() -> list[Event]:
    return simulate(SimConfig(seed=3, days=60, n_horses=200)).events()


def _winner_time(result: RaceResult) -> float | None:
    times = [f.finish_time for f in result.finishers if f.position == 1 and f.finish_time]
    return min(times) if times else None


def _reference(cards: dict[str, RaceCard], results: dict[str, RaceResult], card: RaceCard,
               family) -> dict[str, tuple[float, float, float]]:  # fmt: skip
    """runner -> (last, best of 3, mean of 3) figures, by the definition."""
    cut = cutoff_ts(card.race.off_time.timestamp())
    past = [(cards[r], results[r]) for r in results if r in cards and cards[r].race.off_time.timestamp() < cut]

    def par(key: str) -> float:
        times = [_winner_time(res) for c, res in past if family(par_key(c)) == key]
        times = [round(t * 1000) for t in times if t]
        return sum(times) / len(times) / 1000.0 if len(times) >= MIN_PAR_RACES else math.nan

    def variant(course: str, day: float) -> float:
        devs = []
        for c, res in sorted(past, key=lambda p: (p[0].race.off_time, p[0].race.race_id)):
            start = c.race.off_time.timestamp()
            if c.race.course == course and day <= start < day + DAY and _winner_time(res):
                dev = 1000.0 * (_winner_time(res) - par(family(par_key(c)))) / c.race.distance_m
                if dev == dev:
                    devs.append(dev)
        return sum(devs) / (len(devs) + 1)

    out = {}
    for runner in card.runners:
        runs = sorted(((c, res) for c, res in past for f in res.finishers if f.runner_id == runner.runner_id),
                      key=lambda p: (p[0].race.off_time, p[0].race.race_id), reverse=True)[:3]  # fmt: skip
        figs = []
        for c, res in runs:
            ft = next(f.finish_time for f in res.finishers if f.runner_id == runner.runner_id)
            p = par(family(par_key(c)))
            if not ft or p != p:
                figs.append(math.nan)
                continue
            day = (c.race.off_time.timestamp() // DAY) * DAY
            figs.append(-(1000.0 * (ft - p) / c.race.distance_m - variant(c.race.course, day)))
        known = [x for x in figs if x == x]
        out[runner.runner_id] = (
            figs[0] if figs else math.nan,
            max(known) if known else math.nan,
            sum(known) / len(known) if known else math.nan,
        )
    return out


@pytest.mark.parametrize(("family", "names"), [
    (lambda k: k, ("speed_last", "speed_best3", "speed_mean3")),
    (open_key, ("speed_open_last", "speed_open_best3", "speed_open_mean3")),
])  # fmt: skip
def test_speed_figures_follow_their_definition(events: list[Event], family, names: tuple[str, ...]) -> None:
    cards = {e.key: e.message for e in events if e.kind == "card"}
    results = {e.key: e.message for e in events if e.kind == "result"}
    computed = {f.race_id: f for f in replay(events, FeatureEngine(MemoryStore()))}
    cols = [SQPE_FEATURES.index(n) for n in names]
    late = [c for c in cards.values() if c.race.off_time.timestamp() >= min(
        x.race.off_time.timestamp() for x in cards.values()) + 40 * DAY]  # fmt: skip
    checked = 0
    for card in late:
        want = _reference(cards, results, card, family)
        got = computed[card.race.race_id].sqpe[:, cols]
        for row, runner in zip(got, card.runners, strict=True):
            np.testing.assert_allclose(row, want[runner.runner_id], rtol=1e-12, atol=1e-12,
                                       err_msg=f"{card.race.race_id} {runner.runner_id}")  # fmt: skip
            checked += int(not math.isnan(want[runner.runner_id][0]))
    assert checked > 40, checked  # enough runners with a figure for this to mean something
