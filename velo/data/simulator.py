"""Simulated racing with known true win probabilities.

Horses, jockeys and trainers have latent ability. A runner's strength is a sum
of documented effects (ability, connections, distance fit, draw bias, fitness,
weight, and a trainer's occasional "plot": class drop, gear and a better
jockey together with real improvement). Win probabilities are a softmax of
strength (a conditional logit), and the finishing order is drawn from the
matching Plackett-Luce model, so ``true_prob`` is exactly the chance of winning.

The market sees strength with noise and underprices the draw bias and plots;
informed money moves prices toward the truth as the off approaches, so the
decision-time price holds less than the starting price. Deterministic per seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from velo.data.canonical import normalise
from velo.data.events import DECISION_LEAD, Event, build_events

GEARS = ["B", "TT", "V", "H", "B/TT"]
TICK_MINUTES = (60, 30, 15, 5, 2)


@dataclass(frozen=True)
class SimConfig:
    seed: int = 7
    start: datetime = datetime(2024, 1, 6, tzinfo=UTC)
    days: int = 120
    day_step: int = 2
    races_per_meeting: int = 8
    #: Meetings on one race day, at different courses (a big racing nation's
    #: Saturday has several); their races interleave through the afternoon.
    meetings_per_day: int = 1
    n_horses: int = 900
    n_jockeys: int = 40
    n_trainers: int = 30
    courses: tuple[str, ...] = ("Riverside", "Hillcrest", "Lakeside")
    #: Softmax temperature of the truth: higher = more predictable races.
    beta: float = 1.6
    #: Market noise on strength at the open and at the off (SP).
    market_noise_open: float = 0.9
    market_noise_close: float = 0.45
    #: Share of the draw bias and of plots that the market fails to price.
    market_blind_spot: float = 0.6
    #: Day index from which the world changes (draw bias flips, jockeys matter more).
    shift_day: int | None = None
    overround: float = 0.03
    #: Build the pre-off market updates (seven a runner); off for scale runs,
    #: where the card's own price is the market view.
    market_ticks: bool = True


@dataclass
class Simulation:
    config: SimConfig
    canonical: pd.DataFrame
    ticks: pd.DataFrame
    truth: pd.DataFrame = field(repr=False)

    def events(self, card_lead: timedelta | None = None) -> list[Event]:
        """See :func:`velo.data.events.build_events`; ``card_lead`` publishes
        the cards that long before the off, before their market forms."""
        return build_events(self.canonical, ticks=self.ticks if len(self.ticks) else None, card_lead=card_lead)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def _plackett_luce(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """Finishing positions (1 = winner) drawn sequentially in proportion to weights."""
    w = weights.astype(float).copy()
    pos = np.zeros(len(w), dtype=int)
    for place in range(1, len(w) + 1):
        i = rng.choice(len(w), p=w / w.sum())
        pos[i] = place
        w[i] = 0.0
    return pos


def _price(q: np.ndarray, overround: float) -> np.ndarray:
    return np.clip(np.round(1.0 / (q * (1.0 + overround)), 2), 1.01, 1000.0)


class FormBook:
    """How each horse ran: times, beaten lengths, running positions and body
    weight, consistent with the finishing order.

    The winner's time follows the field's strength and the day's track speed
    (a variant per course and day); the others finish behind by lengths that
    grow down the order (0.17 s a length). Each horse has a running style:
    its early position is its early speed plus noise, and the calls move it
    toward where it finishes. Body weight drifts a few kg between runs.
    """

    SECONDS_PER_LENGTH = 0.17

    def __init__(self, rng: np.random.Generator, n_horses: int) -> None:
        self.rng = rng
        self.early_speed = rng.normal(0, 1, n_horses)
        self.body = rng.normal(480, 30, n_horses)
        self.variant: dict[tuple[int, str], float] = {}

    def race(
        self,
        horses: np.ndarray,
        pos: np.ndarray,
        strength: np.ndarray,
        distance: int,
        weights: np.ndarray,
        day_course: tuple[int, str],
    ) -> list[dict]:
        rng, n = self.rng, len(horses)
        variant = self.variant.setdefault(day_course, float(rng.normal(0, 0.01)))
        speed = 16.6 * (1 + 0.006 * strength.max() - variant)  # m/s
        win_time = distance / speed + rng.normal(0, 0.25)
        order = np.argsort(pos)
        gaps = rng.exponential(0.5 + 0.25 * np.arange(n), n)
        gaps[0] = 0.0
        lengths = np.empty(n)
        lengths[order] = np.round(np.cumsum(gaps) * 4) / 4
        early = self.early_speed[horses] + rng.normal(0, 0.6, n)
        first = np.empty(n, dtype=int)
        first[np.argsort(-early)] = np.arange(1, n + 1)
        calls = []
        for w in (0.0, 0.4, 0.75):
            blend = (1 - w) * first + w * pos + rng.normal(0, 0.5, n)
            at = np.empty(n, dtype=int)
            at[np.argsort(blend, kind="stable")] = np.arange(1, n + 1)
            calls.append(at)
        self.body[horses] += rng.normal(0, 4, n)
        return [
            {
                "finish_time": round(float(win_time + lengths[j] * self.SECONDS_PER_LENGTH), 2),
                "beaten_lengths": float(lengths[j]),
                "running_positions": " ".join(str(int(c[j])) for c in (*calls, pos)),
                "body_weight": round(float(self.body[h]), 1),
            }
            for j, h in enumerate(horses)
        ]


def simulate(config: SimConfig | None = None) -> Simulation:
    c = config or SimConfig()
    rng = np.random.default_rng(c.seed)
    H = c.n_horses
    ability = rng.normal(0, 1, H)
    pref_dist = rng.choice([1100, 1300, 1500, 1800, 2200], H)
    age = rng.integers(2, 7, H)
    sex = rng.choice(["G", "M", "H", "F"], H, p=[0.6, 0.2, 0.1, 0.1])
    trainer_of = rng.integers(0, c.n_trainers, H)
    regular_jockey = rng.integers(0, c.n_jockeys, H)
    gear = np.array([None] * H, dtype=object)
    jockey_skill = rng.normal(0, 0.45, c.n_jockeys)
    trainer_skill = rng.normal(0, 0.35, c.n_trainers)
    trainer_plotter = rng.random(c.n_trainers) < 0.3
    course_draw_bias = {course: rng.normal(-0.5, 0.3) for course in c.courses}
    rating_noise = rng.normal(0, 0.6, H)
    runs = np.zeros(H, dtype=int)
    last_run = np.full(H, -1000.0)
    last_class = np.full(H, np.nan)
    best_jockey = int(np.argmax(jockey_skill))
    # the form book draws from its own generator, so the races themselves stay
    # what they were before it existed
    form = FormBook(np.random.default_rng([c.seed, 1]), H)

    rows: list[dict] = []
    ticks: list[dict] = []
    truth: list[dict] = []
    race_no = 0
    for day in range(0, c.days, c.day_step):
        shifted = c.shift_day is not None and day >= c.shift_day
        date = c.start + timedelta(days=day)
        available = np.flatnonzero(day - last_run >= 7)
        for i in range(c.races_per_meeting * c.meetings_per_day):
            meeting, r = divmod(i, c.races_per_meeting)
            course = c.courses[(day // c.day_step + meeting) % len(c.courses)]
            if len(available) < 8:
                break
            off = date + timedelta(hours=2, minutes=30 * r + 7 * meeting)
            distance = int(rng.choice([1000, 1200, 1400, 1600, 2000, 2400]))
            rating_now = 60 + 10 * (ability + rating_noise / np.sqrt(1 + runs))
            cls = int(rng.integers(1, 6))
            # class bands: better horses in lower class numbers
            band_centre = 60 + 10 * (1.2 - 0.6 * (cls - 1))
            score = -np.abs(rating_now[available] - band_centre) + rng.normal(0, 6, len(available))
            n = int(rng.integers(8, 15))
            field_ix = available[np.argsort(-score)[:n]]
            n = len(field_ix)
            available = np.setdiff1d(available, field_ix)
            race_no += 1
            race_id = f"sim-{c.seed}-{race_no:05d}"
            draws = rng.permutation(n) + 1
            ratings = np.round(rating_now[field_ix])
            weights = np.clip(np.round(55 + 0.25 * (ratings - ratings.mean()), 1), 50, 62)
            plot = trainer_plotter[trainer_of[field_ix]] & (rng.random(n) < 0.18) & (runs[field_ix] > 0)
            jockeys = regular_jockey[field_ix].copy()
            switch = rng.random(n) < 0.15
            jockeys[switch] = rng.integers(0, c.n_jockeys, switch.sum())
            jockeys[plot] = best_jockey
            gears = gear[field_ix].copy()
            for ix in np.flatnonzero(plot):
                gears[ix] = GEARS[rng.integers(len(GEARS))] if gears[ix] is None else gears[ix]
            days_off = day - last_run[field_ix]
            draw_effect = course_draw_bias[course] * (draws - 1) / (n - 1) * (-1 if shifted else 1)
            strength = (
                ability[field_ix]
                + 0.12 * np.minimum(age[field_ix] - 2, 3)
                + (2.0 if shifted else 1.0) * jockey_skill[jockeys]
                + trainer_skill[trainer_of[field_ix]]
                - 0.5 * ((distance - pref_dist[field_ix]) / 500.0) ** 2
                + draw_effect
                - 0.4 * (runs[field_ix] == 0)
                - 0.3 * (days_off > 60) * (runs[field_ix] > 0)
                - 0.06 * (weights - weights.mean())
                + 0.7 * plot
            )
            p_true = _softmax(c.beta * strength)
            pos = _plackett_luce(rng, np.exp(c.beta * strength - (c.beta * strength).max()))
            # market: noisy view that underprices draw bias and plots
            seen = strength - c.market_blind_spot * (draw_effect + 0.7 * plot)
            # the close is the open with part of its error corrected by informed money
            b_close = seen + rng.normal(0, c.market_noise_close, n)
            extra = np.sqrt(max(c.market_noise_open**2 - c.market_noise_close**2, 0.0))
            b_open = b_close + rng.normal(0, extra, n)
            volume = 0.0
            for k, minutes in enumerate((*TICK_MINUTES, None)):
                w = (k + 1) / (len(TICK_MINUTES) + 2)  # the SP (w=1) knows more than the decision price
                q = _softmax(c.beta * (b_open + w**2 * (b_close - b_open)))
                if not c.market_ticks:
                    continue  # the last q is still the card's price
                t = off - DECISION_LEAD - timedelta(seconds=1) if minutes is None else off - timedelta(minutes=minutes)
                back = _price(q, c.overround)
                volume += 5000.0 * (k + 1)
                for j in range(n):
                    ticks.append(
                        {
                            "race_id": race_id,
                            "runner_id": f"sim-h{field_ix[j]}",
                            "publish_time": t,
                            "back_price": float(back[j]),
                            "lay_price": float(min(1000.0, round(back[j] * 1.03 + 0.01, 2))),
                            "last_traded_price": float(back[j]),
                            "traded_volume": volume * float(q[j]),
                        }
                    )
            price_pre = _price(q, c.overround)
            sp = _price(_softmax(c.beta * b_close), c.overround / 2)
            ran = form.race(field_ix, pos, strength, distance, weights, (day, course))
            for j, h in enumerate(field_ix):
                rows.append(
                    {
                        "race_id": race_id,
                        "off_time": off.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "course": course,
                        "distance_m": distance,
                        "runner_id": f"sim-h{h}",
                        "won": int(pos[j] == 1),
                        "result": int(pos[j]),
                        "price_pre": float(price_pre[j]),
                        "price_final": float(sp[j]),
                        "going": "GOOD",
                        "race_class": str(cls),
                        "surface": "turf",
                        "race_type": "flat",
                        "draw": int(draws[j]),
                        "weight_carried": float(weights[j]),
                        "age": int(age[h]),
                        "sex": sex[h],
                        "rating": float(ratings[j]),
                        "jockey_id": f"sim-j{jockeys[j]}",
                        "trainer_id": f"sim-t{trainer_of[h]}",
                        "horse_name": f"Sim Horse {h}",
                        "gear": gears[j],
                        "prize": 100_000.0 / cls,
                        "true_prob": float(p_true[j]),
                        **ran[j],
                    }
                )
                truth.append(
                    {
                        "race_id": race_id,
                        "runner_id": f"sim-h{h}",
                        "true_prob": float(p_true[j]),
                        "strength": float(strength[j]),
                        "plot": bool(plot[j]),
                    }
                )
            # the world moves on
            runs[field_ix] += 1
            last_run[field_ix] = day
            last_class[field_ix] = cls
            gear[field_ix] = gears
            ability[field_ix] += rng.normal(0, 0.05, n)
        age_up = (day // 365) != ((day + c.day_step) // 365)
        if age_up:
            age += 1
    canonical, _ = normalise(pd.DataFrame(rows), source=f"sim seed {c.seed}")
    tick_frame = pd.DataFrame(
        ticks,
        columns=[
            "race_id",
            "runner_id",
            "publish_time",
            "back_price",
            "lay_price",
            "last_traded_price",
            "traded_volume",
        ],
    )
    tick_frame["publish_time"] = pd.to_datetime(tick_frame["publish_time"], utc=True)
    return Simulation(c, canonical, tick_frame, pd.DataFrame(truth))
