"""The feature engine: cards read state, results update it.

The stream and the offline training set both drive this one class, so they
cannot disagree. Features are computed for a batch of cards at once (the
stream passes one card; an offline replay passes many days of cards, see
``velo.features.offline.replay``), with one read of the store per batch: the
runners' recent runs, every counter they point at, and their previous
jockeys' counters, which the store follows from the last runs. That is one
round trip whatever the length of history, and the arithmetic is vectorised
with numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter, itemgetter
from typing import Any

import numpy as np

from schemas import RaceCard, RaceResult
from velo import keys
from velo.features.arrays import as_float, group_mean
from velo.features.definitions import SQPE_FEATURES, TIE_FEATURES
from velo.features.formbook import FORM_COLUMNS, form_columns
from velo.features.records import (
    DAY,
    EXCESS_U,
    MICRO,
    MKT_N,
    PLACES,
    POS_N,
    WINS,
    N,
    class_num,
    cutoff_ts,
    distance_band,
    going_code,
    ride_items,
)
from velo.features.store import WIDTH, FeatureStore, Follow, Reads

NAN = np.nan
LAST_RUNS = 6
_RUNNER_FIELDS = attrgetter("runner_id", "jockey_id", "trainer_id", "draw", "weight_carried", "rating", "age", "sex",
                            "gear", "body_weight")  # fmt: skip
_FEMALE = {"F", "M", "FILLY", "MARE"}
_MALE = {"G", "H", "C", "R", "GELDING", "HORSE", "COLT", "RIG"}


@dataclass(frozen=True)
class RaceFeatures:
    """Feature matrices for one card, rows in the card's runner order."""

    race_id: str
    off_time: datetime
    runner_ids: list[str]
    sqpe: np.ndarray
    tie: np.ndarray

    def as_dicts(self) -> list[dict[str, float]]:
        names = SQPE_FEATURES + TIE_FEATURES
        both = np.hstack([self.sqpe, self.tie])
        return [dict(zip(names, row.tolist(), strict=True)) for row in both]


def _rate(wins: np.ndarray, n: np.ndarray, prior: float | np.ndarray, k: float) -> np.ndarray:
    return (wins + prior * k) / (n + k)


def by_name(columns: dict[str, np.ndarray], names: list[str]) -> np.ndarray:
    """The columns in the definitions' order, matched by name: a feature
    defined without a column, or computed without a definition, is a bug
    that fails here rather than shifting every column after it."""
    if columns.keys() != set(names):
        missing, extra = sorted(set(names) - columns.keys()), sorted(columns.keys() - set(names))
        raise RuntimeError(f"feature columns do not match the definitions: missing {missing}, undefined {extra}")
    return np.column_stack([columns[n] for n in names])


class _Plan:
    """Counter queries grouped by kind, answered by one store read."""

    def __init__(self, n_runners: int) -> None:
        self.n = n_runners
        self.keys: list[str] = []
        self.ts: list[np.ndarray] = []
        self.blocks: dict[str, tuple[np.ndarray, int]] = {}

    def add(self, name: str, rows: np.ndarray, named: list[str], ts: np.ndarray) -> None:
        self.blocks[name] = (rows, len(self.keys))
        self.keys += named
        self.ts.append(ts)

    def reads(self, last_keys: list[str], last_ts: np.ndarray, n: int, follow: Follow) -> Reads:
        ts = np.concatenate(self.ts) if self.ts else np.empty(0)
        return Reads(self.keys, ts, last_keys, last_ts, n, follow)

    def resolve(self, answers: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """name -> (R x 7 cumulative array with zeros where absent, presence mask)."""
        out = {}
        for name, (rows, start) in self.blocks.items():
            full = np.zeros((self.n, WIDTH))
            present = np.zeros(self.n, dtype=bool)
            if len(rows):
                full[rows] = answers[start : start + len(rows)]
                present[rows] = True
            out[name] = (full, present)
        return out


class FeatureEngine:
    """Point-in-time features over a :class:`FeatureStore`."""

    def __init__(self, store: FeatureStore) -> None:
        self.store = store

    # -- state updates -------------------------------------------------
    def on_card(self, card: RaceCard) -> RaceFeatures:
        """Compute a card's features, then remember it (its result needs it)."""
        feats = self.features(card)
        self.remember(card)
        return feats

    def remember(self, card: RaceCard) -> None:
        """Keep the card for its result; apply the result if it came first."""
        self.remember_many([card])

    def remember_many(self, cards: Sequence[RaceCard], stored: bool = False) -> None:
        """:meth:`remember` for several cards, in a few round trips to the
        store. ``stored``: the caller has written the cards already (the
        worker's card path writes them with their races' emit state), so only
        the results that came first are looked for."""
        if not stored:
            self.store.put_blobs({keys.card(c.race_id): c.encode() for c in cards})
        pending = self.store.get_blobs([keys.waiting_result(c.race_id) for c in cards])
        self._apply_many(
            [(card, RaceResult.decode(raw)) for card, raw in zip(cards, pending, strict=True) if raw is not None]
        )

    def on_result(self, result: RaceResult) -> bool:
        """Apply a result; False if it waits for its card or was applied before."""
        return self.on_results([result])[0]

    def on_results(self, results: Sequence[RaceResult]) -> list[bool]:
        """:meth:`on_result` for several results, in order, in a few round trips."""
        if not results:
            return []
        raws = self.store.get_blobs([keys.card(r.race_id) for r in results])
        waiting = {
            keys.waiting_result(r.race_id): r.encode() for r, raw in zip(results, raws, strict=True) if raw is None
        }
        if waiting:
            self.store.put_blobs(waiting)
        ready = [(i, RaceCard.decode(raw), r) for i, (r, raw) in enumerate(zip(results, raws, strict=True)) if raw]
        done = [False] * len(results)
        for (i, _, _), applied in zip(ready, self._apply_many([(c, r) for _, c, r in ready]), strict=True):
            done[i] = applied
        return done

    def _apply_many(self, pairs: Sequence[tuple[RaceCard, RaceResult]]) -> list[bool]:
        if not pairs:
            return []
        done = self.apply_results(pairs)
        self.store.delete_blobs([keys.waiting_result(card.race_id) for card, _ in pairs])
        return done

    def apply_results(self, pairs: Sequence[tuple[RaceCard, RaceResult]]) -> list[bool]:
        """Apply results to state for callers that have matched each to its card
        themselves (an offline replay holds both), skipping the store's pairing
        of cards and results; False for a race applied before."""
        return self.store.apply_many([(card.race_id, ride_items(card, result)) for card, result in pairs])

    # -- reads ---------------------------------------------------------
    def features(self, card: RaceCard) -> RaceFeatures:
        """Features of one card as of the start of its UTC day (a pure read)."""
        return self.features_many([card])[0]

    def features_many(self, cards: Sequence[RaceCard]) -> list[RaceFeatures]:
        """Features of several cards against one state (a pure read)."""
        if not cards:
            return []
        runners = [r for c in cards for r in c.runners]
        sizes = np.array([len(c.runners) for c in cards])
        R = len(runners)
        race_of = np.repeat(np.arange(len(cards)), sizes)
        offs = np.array([c.race.off_time.timestamp() for c in cards])
        off = offs[race_of]
        cut = np.array([cutoff_ts(o) for o in offs])[race_of]
        course_r = [c.race.course for c in cards for _ in c.runners]
        band_r = [b for c in cards for b in [distance_band(c.race.distance_m)] * len(c.runners)]
        # every runner field the features use, in one pass over the runners
        rid, jid, tid, draw_r, weight_r, rating_r, age_r, sex_r, gear_r, body_r = (
            list(x) for x in zip(*map(_RUNNER_FIELDS, runners), strict=True)
        )

        # 1. recent runs (newest first), career totals and every counter that
        #    does not depend on the runs, in one read
        every = np.arange(R)
        plan = _Plan(R)
        horse = [keys.horse(x) for x in rid]
        plan.add("career", every, horse, cut)
        plan.add("hc", every, [keys.horse_at_course(x, c) for x, c in zip(rid, course_r, strict=True)], cut)
        plan.add("hd", every, [keys.horse_at_distance(x, b) for x, b in zip(rid, band_r, strict=True)], cut)
        rows = np.array([i for i, x in enumerate(draw_r) if x is not None], dtype=np.intp)
        plan.add("db", rows, [keys.draw_at_course(course_r[i], band_r[i], draw_r[i]) for i in rows.tolist()], cut[rows])
        rows = np.array([i for i, x in enumerate(jid) if x], dtype=np.intp)
        named = [keys.jockey(jid[i]) for i in rows.tolist()]
        plan.add("j", rows, named, cut[rows])
        plan.add("j365", rows, named, cut[rows] - 365 * DAY)
        rows = np.array([i for i, x in enumerate(tid) if x], dtype=np.intp)
        named = [keys.trainer(tid[i]) for i in rows.tolist()]
        plan.add("t", rows, named, cut[rows])
        plan.add("t365", rows, named, cut[rows] - 365 * DAY)
        plan.add("t30", rows, named, cut[rows] - 30 * DAY)
        rows = np.array([i for i, (x, y) in enumerate(zip(tid, jid, strict=True)) if x and y], dtype=np.intp)
        plan.add("tj", rows, [keys.trainer_with_jockey(tid[i], jid[i]) for i in rows.tolist()], cut[rows])
        # the previous jockey's counters depend on the runs: the store follows
        # each horse's last run to its jockey within the same read
        previous_jockey = Follow("j", keys.JOCKEY, jid, (0.0, -365 * DAY))
        cums, hists, pj_cums, pj_ok = self.store.read(plan.reads(horse, cut, LAST_RUNS, previous_jockey))
        c = plan.resolve(cums)
        career = c["career"][0]

        # the recent runs flattened: run k of runner owner[k], depth[k] runs back
        counts = np.array([len(h) for h in hists], dtype=np.intp)
        flat = [run for hist in hists for run in hist]
        owner = np.repeat(every, counts)
        starts = np.cumsum(counts) - counts
        depth = np.arange(len(flat)) - starts[owner]
        has_last = counts > 0
        newest = starts[has_last]

        def columns(runs: list, names: tuple[str, ...]) -> list[tuple[Any, ...] | np.ndarray]:
            """Fields of every run, one pass over the runs (each is a dict
            somewhere in memory; one visit each is what costs)."""
            if not runs:
                return [np.empty(0) for _ in names]
            return list(zip(*map(itemgetter(*names), runs), strict=True))

        def per_runner(select: np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
            w = None if values is None else values[select]
            return np.bincount(owner[select], w, minlength=R).astype(float)

        ts_, b_, m_, won_, gear_ = columns(flat, ("t", "b", "m", "won", "e"))
        run_t, b, m = (np.array(x, dtype=float) for x in (ts_, b_, m_))  # None -> NaN
        d_, k_, w_, g_, c_, j_ = columns([h[0] for h in hists if h], ("d", "k", "w", "g", "c", "j"))
        last = {}
        for f, col in (("t", run_t[newest]), ("b", b[newest]), ("d", d_), ("k", k_), ("w", w_), ("g", g_)):
            last[f] = np.full(R, NAN)
            last[f][has_last] = np.array(col, dtype=float)
        last_course: list[str | None] = [None] * R
        last_jockey: list[str | None] = [None] * R
        for i, c_i, j_i in zip(np.flatnonzero(has_last).tolist(), c_, j_, strict=True):
            last_course[i], last_jockey[i] = c_i, j_i
        known = ~np.isnan(b)
        known_before = np.cumsum(known) - known  # known beaten shares before each run, over all runners
        first3 = known & (known_before - known_before[starts[owner]] < 3)
        n3 = per_runner(first3)
        with np.errstate(invalid="ignore", divide="ignore"):
            avg3 = np.where(n3 > 0, per_runner(first3, b) / n3, NAN)
        recent3 = (depth < 3) & ~np.isnan(m)
        nm = per_runner(recent3)
        with np.errstate(invalid="ignore", divide="ignore"):
            mkt3 = np.where(nm > 0, per_runner(recent3, m) / nm, NAN)
        mkt_last = np.full(R, NAN)
        mkt_last[has_last] = m[newest]
        wins6 = per_runner(np.ones(len(flat), dtype=bool), np.array(won_, dtype=float))
        runs90 = per_runner(run_t >= cut[owner] - 90 * DAY)
        gear = [(x or "").strip() for x in gear_r]
        # object arrays compare in C; a run's gear None never equals a set gear
        worn_gear = np.array(gear_, dtype=object)
        worn = worn_gear == np.array(gear, dtype=object)[owner]
        first_gear = (np.array([bool(x) for x in gear]) & has_last & (per_runner(worn) == 0)).astype(float)

        c["pj"] = (pj_cums[:, 0].astype(float), pj_ok)
        c["pj365"] = (pj_cums[:, 1].astype(float), pj_ok)

        # 2. arithmetic, vectorised over every runner of every card
        field = sizes[race_of].astype(float)
        distance = np.array([cd.race.distance_m for cd in cards], dtype=float)[race_of]
        cls = np.array([as_float(class_num(cd.race.race_class)) for cd in cards])[race_of]
        going = np.array([as_float(going_code(cd.race.going)) for cd in cards])[race_of]
        draw, w, g, age = (np.array(x, dtype=float) for x in (draw_r, weight_r, rating_r, age_r))  # None -> NaN
        sex = [(x or "").strip().upper() for x in sex_r]
        female = np.array([1.0 if s in _FEMALE else 0.0 if s in _MALE else NAN for s in sex])

        def race_mean(x: np.ndarray) -> np.ndarray:
            return group_mean(race_of, x, len(cards))[race_of]

        db, db_ok = c["db"]
        draw_bias = np.where(db_ok, _rate(db[:, WINS], db[:, N], 1.0 / field, 20) * field, NAN)
        with np.errstate(invalid="ignore", divide="ignore"):
            c_excess = np.where(career[:, MKT_N] > 0, career[:, EXCESS_U] / MICRO / career[:, MKT_N], NAN)
        days = np.where(has_last, (off - last["t"]) / DAY, NAN)
        hc, _ = c["hc"]
        hd, _ = c["hd"]
        j, j_ok = c["j"]
        jd = j - c["j365"][0]
        j_sr = np.where(j_ok, _rate(jd[:, WINS], jd[:, N], 0.1, 20), NAN)
        j_rides = np.where(j_ok, jd[:, N], NAN)
        with np.errstate(invalid="ignore", divide="ignore"):
            j_excess = np.where(j_ok & (j[:, MKT_N] > 0), j[:, EXCESS_U] / MICRO / j[:, MKT_N], NAN)
        t, t_ok = c["t"]
        ty, tm = t - c["t365"][0], t - c["t30"][0]
        t_sr = np.where(t_ok, _rate(ty[:, WINS], ty[:, N], 0.1, 20), NAN)
        t_sr30 = np.where(t_ok, _rate(tm[:, WINS], tm[:, N], 0.1, 10), NAN)
        with np.errstate(invalid="ignore", divide="ignore"):
            t_excess = np.where(t_ok & (t[:, MKT_N] > 0), t[:, EXCESS_U] / MICRO / t[:, MKT_N], NAN)

        sqpe_columns = {
            "distance_m": distance,
            "field_size": field,
            "class_num": cls,
            "going_code": going,
            "draw": draw,
            "draw_rel": draw / field,
            "draw_bias": draw_bias,
            "weight_carried": w,
            "weight_rel": w - race_mean(w),
            "weight_change": w - last["w"],
            "rating": g,
            "rating_rel": g - race_mean(g),
            "rating_change": g - last["g"],
            "age": age,
            "is_female": female,
            "last_beaten": last["b"],
            "avg_beaten_3": avg3,
            "wins_last6": wins6,
            "last_mkt_prob": mkt_last,
            "avg_mkt_prob_3": mkt3,
            "career_starts": career[:, N],
            "career_win_rate": _rate(career[:, WINS], career[:, N], 0.1, 5),
            "career_place_rate": _rate(career[:, PLACES], career[:, POS_N], 0.3, 5),
            "career_excess": c_excess,
            "days_since_last": days,
            "runs_90d": runs90,
            "first_start": np.where(has_last, 0.0, 1.0),
            "course_starts": hc[:, N],
            "course_win_rate": _rate(hc[:, WINS], hc[:, N], 0.1, 5),
            "dist_win_rate": _rate(hd[:, WINS], hd[:, N], 0.1, 5),
            "dist_change": distance - last["d"],
            "jockey_sr_365": j_sr,
            "jockey_rides_365": j_rides,
            "jockey_excess": j_excess,
            "trainer_sr_365": t_sr,
            "trainer_sr_30": t_sr30,
            "trainer_excess": t_excess,
        }
        form = form_columns(self.store, flat, owner, depth, cut, race_of, len(cards), np.array(body_r, dtype=float))
        sqpe_columns.update(zip(FORM_COLUMNS, form.T, strict=True))
        sqpe = by_name(sqpe_columns, SQPE_FEATURES)

        pj, pj_ok = c["pj"]
        pjd = pj - c["pj365"][0]
        same_jockey = np.array([bool(lj) and lj == x for lj, x in zip(last_jockey, jid, strict=True)])
        known_jockeys = np.array([bool(lj) and bool(x) for lj, x in zip(last_jockey, jid, strict=True)])
        jockey_up = np.where(same_jockey, 0.0, np.where(pj_ok, j_sr - _rate(pjd[:, WINS], pjd[:, N], 0.1, 20), NAN))
        jockey_up = np.where(has_last & known_jockeys, jockey_up, NAN)
        tj, tj_ok = c["tj"]
        uplift = np.where(tj_ok, _rate(tj[:, WINS], tj[:, N], t_sr, 10) - t_sr, NAN)
        switch = np.array(
            [NAN if lc is None else float(lc != cr) for lc, cr in zip(last_course, course_r, strict=True)]
        )
        tie_columns = {
            "class_drop": np.where(has_last, cls - last["k"], NAN),
            "jockey_upgrade": jockey_up,
            "first_time_gear": first_gear,
            "layoff_trainer_sr": np.where(has_last, np.where(days >= 60, t_sr, 0.0), NAN),
            "trainer_form": t_sr30 - t_sr,
            "trainer_jockey_uplift": uplift,
            "course_switch": switch,
        }
        tie = by_name(tie_columns, TIE_FEATURES)

        out, start = [], 0
        for card, size in zip(cards, sizes, strict=True):
            sl = slice(start, start + size)
            out.append(
                RaceFeatures(card.race_id, card.race.off_time, [r.runner_id for r in card.runners], sqpe[sl], tie[sl])
            )
            start += size
        return out
