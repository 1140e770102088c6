"""Render ``docs/features.md`` from the feature definitions (a test keeps it current).

Run ``python -m velo.features.docs`` after changing a feature.
"""

from __future__ import annotations

from pathlib import Path

from velo.features.definitions import SQPE, TIE, markdown_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "features.md"

HEADER = """# Features

Generated from `velo/features/definitions.py` by `python -m velo.features.docs`;
a test fails when this file is stale.

## Point in time

A race's features are computed *as of the start of its UTC day* (the cutoff):
only results of races that went off before the cutoff are used. Same-day
results are never used, so the stream and an offline replay agree however the
events of a day interleave across partitions, as long as a day's results
arrive before the next day's cards. The race's own result, its starting price
and anything in-play can never reach its features.

State is a set of per-key timelines (horse, horse|course, horse|distance band,
course|band|draw, jockey, trainer, trainer|jockey) of integer counters:
runs, wins, runs with a known position, places (top 3), beaten share in
millionths, runs with a market probability, and (won - market probability) in
millionths. Integers make the sums exact in any arrival order, so shuffled
deliveries, the in-process store and the Redis store all give bit-identical
features. The market probability of a *past* run comes from that race's
official starting price, published with its result: form-book history for
later races, never a feature of the race itself.

How the state is kept. The engine hands a store columns, not objects: a
race's items as lists and arrays, and a batch of cards' reads as one list of
keys with one array of times. The in-process store keeps every key's total
and latest time as dense arrays (a read after a key's last item is one
gather) and, for reads inside a key's history, sorted runs of columns per key
kind, searched with `numpy.searchsorted` and merged as they grow. The Redis
store keeps one sorted set of cumulative vectors per key, and the horse's
runs in a second one. Because a read sees only items before its time, the
offline replay applies each result as it arrives and computes many days of
cards in one read, flushing them first whenever a result arrives that one of
them could see: the features are the ones the stream computes card by card
on arrival, which a test checks in shuffled orders.

## The form book

Where a source has them (Hong Kong and the simulator do; Betfair does not),
results carry each runner's finishing time, beaten lengths and running
positions, and cards its declared body weight. The categories *speed figure*,
*beaten lengths*, *pace* and *body weight* read them back from the horse's
last 3 runs (see `velo/features/formbook.py`). Speed figures compare a run's
time with a par: the mean winning time of earlier races of the same course,
surface, distance and class (an exact integer mean, in milliseconds, read as
of today's cutoff, so it too uses earlier days only), and, for the
`speed_open_*` figures, of every class at that course, surface and distance.
A daily track variant (the mean deviation of that course-day's winners from
their pars, shrunk toward 0 by one race) takes out the day's going and wind.
There is no weight allowance: on the Hong Kong seasons before any test season,
every allowance tried (0.05 and 0.25 s/km per kg, absolute or against the
field's mean) made the figures predict worse. Reading the figures
costs two more reads of the store per batch of cards: the past runs' days
(each course-day's list once, whatever the cards' cutoffs), then the pars of
every race on them as of each cutoff. The figures are computed with array
lookups over interned par keys; `tests/velo/features/test_formbook.py`
recomputes them from the raw cards and results by this definition.

Shrunk rates are `(wins + prior*k)/(n + k)`: with no history they equal the
prior. Windows (30 and 365 days) are differences of two cumulative counters.
Distance bands: <1200, 1200-1399, 1400-1699, 1700-1999, 2000+ m. Missing inputs
give NaN (the gradient-boosted model handles NaN natively).
"""


def render() -> str:
    sqpe_cats = len({f.category for f in SQPE})
    return (
        HEADER
        + f"\n## SQPE: {len(SQPE)} features in {sqpe_cats} categories\n\n"
        + markdown_table(SQPE)
        + f"\n\n## TIE (trainer intent): {len(TIE)} features\n\n"
        + markdown_table(TIE)
        + "\n"
    )


if __name__ == "__main__":
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(render())
    print(f"wrote {DOC}")
