"""The feature engine: cards read state, results update it.

The stream and the offline training set both drive this one class, so they
cannot disagree. Features are computed for a batch of cards at once (the
stream passes one card; an offline replay passes a day's cards, which share
one cutoff), with two reads of the store per batch (the runners' recent runs,
then every counter they point at), each one round trip whatever the length of
history, and the arithmetic vectorised with numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from schemas import RaceCard, RaceResult
from velo.features.definitions import SQPE_FEATURES, TIE_FEATURES
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
    ride_inserts,
)  # fmt: skip
from velo.features.store import WIDTH, CumBefore, FeatureStore, LastBefore, Query

NAN = np.nan
LAST_RUNS = 6
_ZERO = (0,) * WIDTH
_FEMALE = {"F", "M", "FILLY", "MARE"}
_MALE = {"G", "H", "C", "R", "GELDING", "HORSE", "COLT", "RIG"}
_LAST_FIELDS = ("t", "d", "k", "w", "g", "b")


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


def _f(x: float | int | None) -> float:
    return NAN if x is None else float(x)


class _Plan:
    """Counter queries grouped by kind, answered by one store read."""

    def __init__(self, n_runners: int) -> None:
        self.n = n_runners
        self.queries: list[Query] = []
        self.blocks: dict[str, tuple[np.ndarray, int]] = {}

    def add(self, name: str, rows: list[int], keys: list[str], ts: list[float]) -> None:
        self.blocks[name] = (np.asarray(rows, dtype=np.intp), len(self.queries))
        self.queries.extend(CumBefore(k, t) for k, t in zip(keys, ts, strict=True))

    def resolve(self, answers: list) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """name -> (R x 7 cumulative array with zeros where absent, presence mask)."""
        out = {}
        for name, (rows, start) in self.blocks.items():
            full = np.zeros((self.n, WIDTH))
            present = np.zeros(self.n, dtype=bool)
            if len(rows):
                full[rows] = np.asarray(answers[start : start + len(rows)], dtype=float)
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

    def remember_many(self, cards: Sequence[RaceCard]) -> None:
        """:meth:`remember` for several cards, in a few round trips to the store."""
        self.store.put_blobs({f"card:{c.race_id}": c.encode() for c in cards})
        pending = self.store.get_blobs([f"result:{c.race_id}" for c in cards])
        self._apply_many([(card, RaceResult.decode(raw)) for card, raw in zip(cards, pending, strict=True)
                          if raw is not None])  # fmt: skip

    def on_result(self, result: RaceResult) -> bool:
        """Apply a result; False if it waits for its card or was applied before."""
        return self.on_results([result])[0]

    def on_results(self, results: Sequence[RaceResult]) -> list[bool]:
        """:meth:`on_result` for several results, in order, in a few round trips."""
        if not results:
            return []
        raws = self.store.get_blobs([f"card:{r.race_id}" for r in results])
        waiting = {f"result:{r.race_id}": r.encode() for r, raw in zip(results, raws, strict=True) if raw is None}
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
        done = self.store.apply_many([(card.race_id, ride_inserts(card, result)) for card, result in pairs])
        self.store.delete_blobs([f"result:{card.race_id}" for card, _ in pairs])
        return done

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
        courses = [c.race.course for c in cards]
        bands = [distance_band(c.race.distance_m) for c in cards]
        course_r = [courses[i] for i in race_of]
        band_r = [bands[i] for i in race_of]
        cut_l = cut.tolist()

        # 1. recent runs (newest first), career totals and every counter that
        #    does not depend on the runs, in one read
        idx = range(R)
        plan = _Plan(R)
        plan.add("career", list(idx), [f"H:{r.runner_id}" for r in runners], cut_l)
        plan.add("hc", list(idx), [f"HC:{r.runner_id}|{c}" for r, c in zip(runners, course_r, strict=True)], cut_l)
        plan.add("hd", list(idx), [f"HD:{r.runner_id}|{b}" for r, b in zip(runners, band_r, strict=True)], cut_l)
        rows = [i for i in idx if runners[i].draw is not None]
        plan.add(
            "db", rows, [f"DB:{course_r[i]}|{band_r[i]}|{runners[i].draw}" for i in rows], [cut_l[i] for i in rows]
        )
        rows = [i for i in idx if runners[i].jockey_id]
        keys = [f"J:{runners[i].jockey_id}" for i in rows]
        plan.add("j", rows, keys, [cut_l[i] for i in rows])
        plan.add("j365", rows, keys, [cut_l[i] - 365 * DAY for i in rows])
        rows = [i for i in idx if runners[i].trainer_id]
        keys = [f"T:{runners[i].trainer_id}" for i in rows]
        plan.add("t", rows, keys, [cut_l[i] for i in rows])
        plan.add("t365", rows, keys, [cut_l[i] - 365 * DAY for i in rows])
        plan.add("t30", rows, keys, [cut_l[i] - 30 * DAY for i in rows])
        rows = [i for i in idx if runners[i].trainer_id and runners[i].jockey_id]
        plan.add("tj", rows, [f"TJ:{runners[i].trainer_id}|{runners[i].jockey_id}" for i in rows],
                 [cut_l[i] for i in rows])  # fmt: skip
        history = [LastBefore(f"H:{r.runner_id}", t, LAST_RUNS) for r, t in zip(runners, cut_l, strict=True)]
        answers = self.store.read(history + plan.queries)
        hists = answers[:R]
        c = plan.resolve(answers[R:])
        career = c["career"][0]

        last = {f: np.full(R, NAN) for f in _LAST_FIELDS}
        has_last = np.zeros(R, dtype=bool)
        last_course: list[str | None] = [None] * R
        last_jockey: list[str | None] = [None] * R
        avg3, mkt_last, mkt3, wins6, runs90, first_gear = (np.zeros(R) for _ in range(6))
        for i, (r, hist) in enumerate(zip(runners, hists, strict=True)):
            gear = (r.gear or "").strip()
            if not hist:
                avg3[i] = mkt_last[i] = mkt3[i] = NAN
                continue
            h0 = hist[0]
            has_last[i] = True
            for f in _LAST_FIELDS:
                last[f][i] = _f(h0[f])
            last_course[i], last_jockey[i] = h0["c"], h0["j"]
            beaten = [h["b"] for h in hist if h["b"] is not None]
            avg3[i] = sum(beaten[:3]) / len(beaten[:3]) if beaten else NAN
            mkt_last[i] = _f(h0["m"])
            mkts = [h["m"] for h in hist[:3] if h["m"] is not None]
            mkt3[i] = sum(mkts) / len(mkts) if mkts else NAN
            wins6[i] = sum(h["won"] for h in hist)
            runs90[i] = sum(1 for h in hist if h["t"] >= cut_l[i] - 90 * DAY)
            first_gear[i] = 1.0 if gear and all((h["e"] or "") != gear for h in hist) else 0.0

        # 2. the previous jockey's counters, which depend on the runs
        pj_plan = _Plan(R)
        rows = [i for i in idx if last_jockey[i] and last_jockey[i] != runners[i].jockey_id]
        keys = [f"J:{last_jockey[i]}" for i in rows]
        pj_plan.add("pj", rows, keys, [cut_l[i] for i in rows])
        pj_plan.add("pj365", rows, keys, [cut_l[i] - 365 * DAY for i in rows])
        c.update(pj_plan.resolve(self.store.read(pj_plan.queries)))

        # 3. arithmetic, vectorised over every runner of every card
        field = sizes[race_of].astype(float)
        distance = np.array([cd.race.distance_m for cd in cards], dtype=float)[race_of]
        cls = np.array([_f(class_num(cd.race.race_class)) for cd in cards])[race_of]
        going = np.array([_f(going_code(cd.race.going)) for cd in cards])[race_of]
        draw = np.array([_f(r.draw) for r in runners])
        w = np.array([_f(r.weight_carried) for r in runners])
        g = np.array([_f(r.rating) for r in runners])
        age = np.array([_f(r.age) for r in runners])
        sex = [(r.sex or "").strip().upper() for r in runners]
        female = np.array([1.0 if s in _FEMALE else 0.0 if s in _MALE else NAN for s in sex])

        def race_mean(x: np.ndarray) -> np.ndarray:
            ok = ~np.isnan(x)
            total = np.bincount(race_of, np.where(ok, x, 0.0), minlength=len(cards))
            count = np.bincount(race_of, ok.astype(float), minlength=len(cards))
            with np.errstate(invalid="ignore", divide="ignore"):
                return (total / count)[race_of]

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

        sqpe = np.column_stack([
            distance, field, cls, going,
            draw, draw / field, draw_bias,
            w, w - race_mean(w), w - last["w"],
            g, g - race_mean(g), g - last["g"],
            age, female,
            last["b"], avg3, wins6, mkt_last, mkt3,
            career[:, N], _rate(career[:, WINS], career[:, N], 0.1, 5),
            _rate(career[:, PLACES], career[:, POS_N], 0.3, 5), c_excess,
            days, runs90, np.where(has_last, 0.0, 1.0),
            hc[:, N], _rate(hc[:, WINS], hc[:, N], 0.1, 5), _rate(hd[:, WINS], hd[:, N], 0.1, 5),
            distance - last["d"],
            j_sr, j_rides, j_excess,
            t_sr, t_sr30, t_excess,
        ])  # fmt: skip

        pj, pj_ok = c["pj"]
        pjd = pj - c["pj365"][0]
        same_jockey = np.array([bool(lj) and lj == r.jockey_id for lj, r in zip(last_jockey, runners, strict=True)])
        known_jockeys = np.array([bool(lj) and bool(r.jockey_id) for lj, r in zip(last_jockey, runners, strict=True)])
        jockey_up = np.where(same_jockey, 0.0, np.where(pj_ok, j_sr - _rate(pjd[:, WINS], pjd[:, N], 0.1, 20), NAN))
        jockey_up = np.where(has_last & known_jockeys, jockey_up, NAN)
        tj, tj_ok = c["tj"]
        uplift = np.where(tj_ok, _rate(tj[:, WINS], tj[:, N], t_sr, 10) - t_sr, NAN)
        switch = np.array(
            [NAN if lc is None else float(lc != cr) for lc, cr in zip(last_course, course_r, strict=True)]
        )
        tie = np.column_stack([
            np.where(has_last, cls - last["k"], NAN),
            jockey_up,
            first_gear,
            np.where(has_last, np.where(days >= 60, t_sr, 0.0), NAN),
            t_sr30 - t_sr,
            uplift,
            switch,
        ])  # fmt: skip

        out, start = [], 0
        for card, size in zip(cards, sizes, strict=True):
            sl = slice(start, start + size)
            out.append(RaceFeatures(card.race_id, card.race.off_time, [r.runner_id for r in card.runners],
                                    sqpe[sl], tie[sl]))  # fmt: skip
            start += size
        return out
