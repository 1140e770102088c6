"""The form book: how each horse ran, as point-in-time features.

A result carries, where the source has them, each runner's finishing time,
beaten lengths and running positions, and the card its body weight. What a
race leaves in the state:

- in each runner's run payload: its time (``ft``), beaten lengths (``bl``),
  early position share (``ep``: 0 = led at the first call, 1 = last), body
  weight (``bw``) and the race's par key (``pk``);
- ``PAR:<course>|<surface>|<distance>|<class>``: a counter of winners'
  times in milliseconds (count, sum), so the par of a race type is an exact
  integer mean of earlier winners, the same in any arrival order;
- ``VD:<course>``: one payload per race, its par key, distance, off time and
  winner's time, from which a day's track variant is computed.

Everything is read as of the card's cutoff (the start of its UTC day), so a
figure uses only races of earlier days, and the par of a past race is the
one known today (more races, and still all in the past). A past run's speed
figure is, in seconds per km faster than par:

    figure = -(1000 (time - par) / distance - variant)

where the variant of a course and day is the mean of that day's winners'
1000 (time - par) / distance, shrunk toward 0 by one pseudo-race. The par is
per class, not per going: the variant already takes out the day's going, and
a class par compares a run with what wins at that level. Measured on the Hong
Kong seasons 1998-2000 (before any test season), the within-race
predictive power of the 3-run mean figure was 0.049 pseudo-R² with class pars
against 0.040 with pars per course, surface and distance, with or
without the going; any weight allowance made it worse (0.05 s/km
per kg: 0.047; 0.25: 0.025; relative to the field's mean weight, too), so
there is none: in handicaps the weight a horse carries already follows its
rating. Reading it
needs the past runs first, then their days' races, then the pars of all of
those: two more reads of the store after the card's own, batched over every
card of a call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from schemas import RaceCard, RaceResult
from velo.features.arrays import as_float, group_mean
from velo.features.store import WIDTH, FeatureStore, Reads

NAN = np.nan
DAY = 86_400.0
#: Earlier winners a race type needs before its par is used.
MIN_PAR_RACES = 3
#: Beaten lengths beyond this say only "well beaten".
MAX_LENGTHS = 30.0
#: Races a course can hold in a day (the variant reads that many).
MAX_RACES_A_DAY = 24
#: A runner whose mean early position share is below this habitually leads.
LEADER_SHARE = 0.25
#: The form-book columns, in the order :func:`form_columns` returns them.
FORM_COLUMNS = (
    "speed_last", "speed_best3", "speed_mean3", "speed_trend", "lengths_last", "lengths_mean3",
    "early_pos_3", "early_pos_rel", "pace_pressure", "body_weight_change",
    "speed_open_last", "speed_open_best3", "speed_open_mean3",
)  # fmt: skip


def par_key(card: RaceCard) -> str:
    race = card.race
    level = (race.race_class or "").strip().upper()
    return f"{race.course}|{(race.surface or '').strip().lower()}|{race.distance_m}|{level}"


def run_fields(finisher: object, body_weight: float | None, field: int) -> dict:
    """A runner's form-book fields for its run payload."""
    positions = getattr(finisher, "running_positions", None)
    early = None
    if positions and field > 1:
        early = min(1.0, (positions[0] - 1) / (field - 1))
    return {"ft": getattr(finisher, "finish_time", None), "bl": getattr(finisher, "beaten_lengths", None),
            "ep": early, "bw": body_weight}  # fmt: skip


def race_items(card: RaceCard, result: RaceResult) -> list[tuple[str, str, tuple[int, ...], dict | None]]:
    """The race-level items: its winner's time under its par key, and its
    entry in the course's day list. None without a winner's time."""
    times = [f.finish_time for f in result.finishers if f.position == 1 and f.finish_time]
    if not times:
        return []
    win = min(times)
    key = par_key(card)
    par_delta = (1, round(win * 1000), 0, 0, 0, 0, 0)
    day = {"k": key, "wt": win, "d": card.race.distance_m, "o": card.race.off_time.timestamp()}
    return [(f"PAR:{key}", card.race_id, par_delta, None), (f"PAR:{open_key(key)}", card.race_id, par_delta, None),
            (f"VD:{card.race.course}", card.race_id, (0,) * WIDTH, day)]  # fmt: skip


def _pars(store: FeatureStore, keys: list[tuple[str, float]]) -> dict[tuple[str, float], float]:
    """Par (seconds) of each (par key, cutoff); NaN where too few races."""
    if not keys:
        return {}
    cums = store.read(Reads([f"PAR:{k}" for k, _ in keys], np.array([c for _, c in keys]))).cums
    n, total = cums[:, 0], cums[:, 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        par = np.where(n >= MIN_PAR_RACES, total / np.maximum(n, 1) / 1000.0, NAN)
    return dict(zip(keys, par.tolist(), strict=True))


def open_key(key: str) -> str:
    """The par key of all classes at a course, surface and distance."""
    return key.rsplit("|", 1)[0]


def _same(key: str) -> str:
    return key


def _figures(runs: Sequence[dict], timed: list[int], owner: np.ndarray, cut: np.ndarray, day_races: dict,
             pars: dict, family: Callable[[str], str]) -> np.ndarray:  # fmt: skip
    """Each timed run's figure against the pars of one family (``family``
    maps a class par key to that family's key); NaN elsewhere."""
    variant = {}
    for day, ps in day_races.items():
        devs = [1000.0 * (p["wt"] - pars[(family(p["k"]), day[2])]) / p["d"] for p in ps]
        devs = [x for x in devs if x == x]
        variant[day] = sum(devs) / (len(devs) + 1)
    figure = np.full(len(runs), NAN)
    for k in timed:
        r = runs[k]
        c = float(cut[owner[k]])
        par = pars[(family(r["pk"]), c)]
        if par != par:
            continue
        v = variant[(r["c"], (r["t"] // DAY) * DAY, c)]
        figure[k] = -(1000.0 * (r["ft"] - par) / r["d"] - v)
    return figure


def form_columns(
    store: FeatureStore,
    runs: Sequence[dict],
    owner: np.ndarray,
    depth: np.ndarray,
    cut: np.ndarray,
    race_of: np.ndarray,
    n_races: int,
    body_weight: np.ndarray,
) -> np.ndarray:
    """The form-book features of every runner, an ``(R, len(FORM_COLUMNS))`` array.

    ``runs`` are the runners' recent run payloads flattened (run k belongs to
    runner ``owner[k]``, ``depth[k]`` runs back), ``cut`` each runner's cutoff."""
    R = len(cut)
    recent = depth < 3
    idx = np.flatnonzero(recent).tolist()
    timed = [k for k in idx if runs[k].get("ft") and runs[k].get("pk") is not None]
    # 1. the day lists of the courses and days of the timed runs
    days = list(dict.fromkeys((runs[k]["c"], (runs[k]["t"] // DAY) * DAY, float(cut[owner[k]])) for k in timed))
    lists = []
    if days:
        ends = np.array([d + DAY for _, d, _ in days])
        lists = store.read(Reads([], np.empty(0), [f"VD:{c}" for c, _, _ in days], ends, MAX_RACES_A_DAY)).lasts
    day_races = {day: [p for p in got if p and p["o"] >= day[1]] for day, got in zip(days, lists, strict=True)}
    # 2. every par those need, as of each runner's cutoff, in both families
    wanted = [(runs[k]["pk"], float(cut[owner[k]])) for k in timed]
    wanted += [(p["k"], day[2]) for day, ps in day_races.items() for p in ps]
    wanted += [(open_key(k), c) for k, c in wanted]
    pars = _pars(store, list(dict.fromkeys(wanted)))
    figure = _figures(runs, timed, owner, cut, day_races, pars, _same)
    figure_open = _figures(runs, timed, owner, cut, day_races, pars, open_key)

    out = np.full((R, len(FORM_COLUMNS)), NAN)
    sel = np.array(idx, dtype=np.intp)
    if len(sel):
        own = owner[sel]
        newest = depth[sel] == 0
        out[:, [0, 1, 2]] = _last_best_mean(own, newest, figure[sel], R)
        out[:, [10, 11, 12]] = _last_best_mean(own, newest, figure_open[sel], R)
        fig = figure[sel]
        out[:, 3] = out[:, 0] - group_mean(own[~newest], fig[~newest], R)
        bl = np.array([as_float(runs[k].get("bl")) for k in idx], dtype=float)
        bl = np.minimum(bl, MAX_LENGTHS)
        out[own[newest], 4] = bl[newest]
        out[:, 5] = group_mean(own, bl, R)
        out[:, 6] = group_mean(own, np.array([as_float(runs[k].get("ep")) for k in idx], dtype=float), R)
        last_bw = np.full(R, NAN)
        last_bw[own[newest]] = [as_float(runs[k].get("bw")) for k in sel[newest].tolist()]
        out[:, 9] = body_weight - last_bw
    early = out[:, 6]
    known = ~np.isnan(early)
    out[:, 7] = early - group_mean(race_of, early, n_races)[race_of]
    out[:, 8] = np.bincount(race_of, (known & (early < LEADER_SHARE)).astype(float), minlength=n_races)[race_of]
    return out


def _last_best_mean(owner: np.ndarray, newest: np.ndarray, fig: np.ndarray, n: int) -> np.ndarray:
    """Per runner: the newest run's figure, the best and the mean of its runs'."""
    out = np.full((n, 3), NAN)
    ok = ~np.isnan(fig)
    best = np.full(n, -np.inf)
    np.maximum.at(best, owner[ok], fig[ok])
    out[:, 1] = np.where(np.bincount(owner[ok], minlength=n) > 0, best, NAN)
    out[owner[newest], 0] = fig[newest]
    out[:, 2] = group_mean(owner, fig, n)
    return out
