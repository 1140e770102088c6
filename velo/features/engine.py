"""The feature engine: cards read state, results update it.

The stream and the offline training set both drive this one class, so they
cannot disagree. A card's features come from two reads (the runners' recent
runs, then every counter they point at), each one round trip to the store,
whatever the length of history.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import orjson

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
from velo.features.store import WIDTH, CumBefore, FeatureStore, LastBefore

NAN = math.nan
_ZERO = (0,) * WIDTH
LAST_RUNS = 6
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


def _rate(wins: float, n: float, prior: float, k: float) -> float:
    return (wins + prior * k) / (n + k)


def _diff(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(x - y for x, y in zip(a, b, strict=True))


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else NAN


def _num(x: float | int | None) -> float:
    return NAN if x is None else float(x)


class FeatureEngine:
    """Point-in-time features over a :class:`FeatureStore`."""

    def __init__(self, store: FeatureStore) -> None:
        self.store = store

    # -- state updates -------------------------------------------------
    def on_card(self, card: RaceCard) -> RaceFeatures:
        """Remember the card (a result needs it), compute its features, and
        apply the race's result if that arrived first."""
        race_id = card.race_id
        feats = self.features(card)
        self.store.put_blob(f"card:{race_id}", card.encode())
        pending = self.store.get_blob(f"result:{race_id}")
        if pending is not None:
            self._apply(card, RaceResult.decode(pending))
        return feats

    def on_result(self, result: RaceResult) -> bool:
        """Apply a result; False if it waits for its card or was applied before."""
        raw = self.store.get_blob(f"card:{result.race_id}")
        if raw is None:
            self.store.put_blob(f"result:{result.race_id}", result.encode())
            return False
        return self._apply(RaceCard.decode(raw), result)

    def _apply(self, card: RaceCard, result: RaceResult) -> bool:
        done = self.store.apply(card.race_id, ride_inserts(card, result))
        self.store.delete_blob(f"result:{card.race_id}")
        return done

    # -- reads ---------------------------------------------------------
    def features(self, card: RaceCard) -> RaceFeatures:
        """Features of ``card`` as of the start of its UTC day (pure read)."""
        race = card.race
        off = race.off_time.timestamp()
        cut = cutoff_ts(off)
        y365, d30 = cut - 365 * DAY, cut - 30 * DAY
        runners = card.runners
        band = distance_band(race.distance_m)

        first = self.store.read([LastBefore(f"H:{r.runner_id}", cut, LAST_RUNS) for r in runners])
        histories = [[orjson.loads(p) for _, p in items] for items in first]
        careers = [items[0][0] if items else _ZERO for items in first]

        queries: list = []
        slots: list[dict[str, int]] = []
        for r, hist in zip(runners, histories, strict=True):
            s: dict[str, int] = {}

            def ask(name: str, q: object, s: dict[str, int] = s) -> None:
                s[name] = len(queries)
                queries.append(q)

            ask("hc", CumBefore(f"HC:{r.runner_id}|{race.course}", cut))
            ask("hd", CumBefore(f"HD:{r.runner_id}|{band}", cut))
            if r.draw is not None:
                ask("db", CumBefore(f"DB:{race.course}|{band}|{r.draw}", cut))
            if r.jockey_id:
                ask("j", CumBefore(f"J:{r.jockey_id}", cut))
                ask("j365", CumBefore(f"J:{r.jockey_id}", y365))
            if r.trainer_id:
                ask("t", CumBefore(f"T:{r.trainer_id}", cut))
                ask("t365", CumBefore(f"T:{r.trainer_id}", y365))
                ask("t30", CumBefore(f"T:{r.trainer_id}", d30))
            if r.trainer_id and r.jockey_id:
                ask("tj", CumBefore(f"TJ:{r.trainer_id}|{r.jockey_id}", cut))
            prev_j = hist[0]["j"] if hist else None
            if prev_j and prev_j != r.jockey_id:
                ask("pj", CumBefore(f"J:{prev_j}", cut))
                ask("pj365", CumBefore(f"J:{prev_j}", y365))
            slots.append(s)
        second = self.store.read(queries)

        field = len(runners)
        weights = [r.weight_carried for r in runners if r.weight_carried is not None]
        ratings = [r.rating for r in runners if r.rating is not None]
        mean_w, mean_g = _mean(weights), _mean(ratings)
        cls = class_num(race.race_class)
        race_part = [float(race.distance_m), float(field), _num(cls), _num(going_code(race.going))]

        sqpe = np.empty((field, len(SQPE_FEATURES)))
        tie = np.empty((field, len(TIE_FEATURES)))
        for i, (r, hist, car, s) in enumerate(zip(runners, histories, careers, slots, strict=True)):

            def cum(name: str, s: dict[str, int] = s) -> tuple[int, ...] | None:
                return second[s[name]] if name in s else None

            last = hist[0] if hist else None
            # draw
            db = cum("db")
            draw_bias = _rate(db[WINS], db[N], 1.0 / field, 20) * field if db else NAN
            draw = _num(r.draw)
            # weight / rating
            w, g = _num(r.weight_carried), _num(r.rating)
            w_change = w - _num(last["w"]) if last else NAN
            g_change = g - _num(last["g"]) if last else NAN
            # form
            beaten = [h["b"] for h in hist if h["b"] is not None]
            last_beaten = _num(last["b"]) if last else NAN
            avg3 = _mean(beaten[:3])
            trend = _mean([b for b in (h["b"] for h in hist[1:3]) if b is not None]) - last_beaten
            wins6 = float(sum(h["won"] for h in hist))
            places6 = float(sum(1 for h in hist if h["p"] is not None and h["p"] <= 3))
            # career
            starts = float(car[N])
            c_win = _rate(car[WINS], car[N], 0.1, 5)
            c_place = _rate(car[PLACES], car[POS_N], 0.3, 5)
            c_excess = car[EXCESS_U] / MICRO / car[MKT_N] if car[MKT_N] else NAN
            # fitness
            days = (off - last["t"]) / DAY if last else NAN
            runs90 = float(sum(1 for h in hist if h["t"] >= cut - 90 * DAY))
            # suitability
            hc, hd = cum("hc"), cum("hd")
            dist_change = race.distance_m - last["d"] if last else NAN
            # jockey
            j, j365 = cum("j"), cum("j365")
            if j is not None:
                jd = _diff(j, j365)
                j_sr = _rate(jd[WINS], jd[N], 0.1, 20)
                j_rides = float(jd[N])
                j_excess = j[EXCESS_U] / MICRO / j[MKT_N] if j[MKT_N] else NAN
            else:
                j_sr = j_rides = j_excess = NAN
            # trainer
            t, t365, t30 = cum("t"), cum("t365"), cum("t30")
            if t is not None:
                ty, tm = _diff(t, t365), _diff(t, t30)
                t_sr = _rate(ty[WINS], ty[N], 0.1, 20)
                t_sr30 = _rate(tm[WINS], tm[N], 0.1, 10)
                t_excess = t[EXCESS_U] / MICRO / t[MKT_N] if t[MKT_N] else NAN
            else:
                t_sr = t_sr30 = t_excess = NAN
            sex = (r.sex or "").strip().upper()
            sqpe[i] = (
                *race_part,
                draw, draw / field, draw_bias,
                w, w - mean_w, w_change,
                g, g - mean_g, g_change,
                _num(r.age), 1.0 if sex in _FEMALE else 0.0 if sex in _MALE else NAN,
                last_beaten, avg3, wins6, places6, trend,
                starts, c_win, c_place, c_excess,
                days, runs90, 0.0 if last else 1.0,
                float(hc[N]), _rate(hc[WINS], hc[N], 0.1, 5), _rate(hd[WINS], hd[N], 0.1, 5), dist_change,
                j_sr, j_rides, j_excess,
                t_sr, t_sr30, t_excess,
            )  # fmt: skip
            # trainer intent
            if last is None:
                class_drop = jockey_up = layoff = course_switch = NAN
            else:
                class_drop = _num(cls) - _num(last["k"])
                if not r.jockey_id or not last["j"]:
                    jockey_up = NAN
                elif last["j"] == r.jockey_id:
                    jockey_up = 0.0
                else:
                    pj, pj365 = cum("pj"), cum("pj365")
                    pd_ = _diff(pj, pj365)
                    jockey_up = j_sr - _rate(pd_[WINS], pd_[N], 0.1, 20)
                layoff = t_sr if days >= 60 else 0.0
                course_switch = 0.0 if last["c"] == race.course else 1.0
            gear = (r.gear or "").strip()
            first_gear = 1.0 if gear and hist and all((h["e"] or "") != gear for h in hist) else 0.0
            tj = cum("tj")
            uplift = _rate(tj[WINS], tj[N], t_sr, 10) - t_sr if tj is not None else NAN
            tie[i] = (class_drop, jockey_up, first_gear, layoff, t_sr30 - t_sr, uplift, course_switch)
        return RaceFeatures(race.race_id, race.off_time, [r.runner_id for r in runners], sqpe, tie)
