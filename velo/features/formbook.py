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

from collections.abc import Hashable, Iterable, Sequence
from operator import itemgetter

import numpy as np

from schemas import RaceCard, RaceResult
from velo import keys
from velo.features.arrays import group_mean
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


def run_fields(finisher: object, body_weight: float | None, field: int) -> keys.FormFields:
    """A runner's form-book fields for its run payload."""
    positions = getattr(finisher, "running_positions", None)
    early = None
    if positions and field > 1:
        early = min(1.0, (positions[0] - 1) / (field - 1))
    return {
        "ft": getattr(finisher, "finish_time", None),
        "bl": getattr(finisher, "beaten_lengths", None),
        "ep": early,
        "bw": body_weight,
    }


def race_items(card: RaceCard, result: RaceResult) -> list[tuple[str, str, tuple[int, ...], keys.DayPayload | None]]:
    """The race-level items: its winner's time under its par key, and its
    entry in the course's day list. None without a winner's time."""
    times = [f.finish_time for f in result.finishers if f.position == 1 and f.finish_time]
    if not times:
        return []
    win = min(times)
    key = par_key(card)
    par_delta = (1, round(win * 1000), 0, 0, 0, 0, 0)
    day: keys.DayPayload = {"k": key, "wt": win, "d": card.race.distance_m, "o": card.race.off_time.timestamp()}
    return [
        (keys.par(key), card.race_id, par_delta, None),
        (keys.par(open_key(key)), card.race_id, par_delta, None),
        (keys.course_day(card.race.course), card.race_id, (0,) * WIDTH, day),
    ]


def open_key(key: str) -> str:
    """The par key of all classes at a course, surface and distance."""
    return key.rsplit("|", 1)[0]


def _interned(values: Iterable[Hashable], ids: dict) -> np.ndarray:
    """Each key's integer id in ``ids``, new keys numbered in order of first
    appearance (so ``list(ids)`` is the key of each id)."""
    return np.array([ids.setdefault(k, len(ids)) for k in values], dtype=np.intp)


def _variants(day_of: np.ndarray, devs: np.ndarray, n_days: int) -> np.ndarray:
    """Each day's track variant: the mean of its known deviations, shrunk
    toward 0 by one pseudo-race (summed in list order, as the figures were
    defined)."""
    ok = ~np.isnan(devs)
    total = np.bincount(day_of[ok], devs[ok], minlength=n_days)
    return total / (np.bincount(day_of[ok], minlength=n_days) + 1)


def _figures(
    par_run: np.ndarray,
    par_race: np.ndarray,
    race_day: np.ndarray,
    race_wt: np.ndarray,
    race_d: np.ndarray,
    run_day: np.ndarray,
    run_ft: np.ndarray,
    run_d: np.ndarray,
    n_days: int,
) -> np.ndarray:
    """Each timed run's figure against one family's pars (NaN where its par
    is unknown): the run's deviation from par less its day's variant."""
    variant = _variants(race_day, 1000.0 * (race_wt - par_race) / race_d, n_days)
    figure = -(1000.0 * (run_ft - par_run) / run_d - variant[run_day])
    figure[np.isnan(figure)] = NAN  # the canonical NaN, not its negation
    return figure


def _timed_figures(
    store: FeatureStore, runs: Sequence[dict], timed: list[int], run_cut: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The class-par and open-par figures of the ``timed`` runs (cutoffs
    ``run_cut``), with two reads of the store: the day lists of their
    courses and days, then every par those need as of each cutoff."""
    n = len(timed)
    if not n:
        return np.empty(0), np.empty(0)
    course, t, pk, ft, dist = zip(*(itemgetter("c", "t", "pk", "ft", "d")(runs[k]) for k in timed), strict=True)
    day_start = (np.array(t, dtype=float) // DAY) * DAY
    # 1. a course's day list is the same as of any later cutoff: read it once
    cd_ids: dict[tuple[str, float], int] = {}
    cd_of_run = _interned(zip(course, day_start.tolist(), strict=True), cd_ids)
    ends = np.array([d + DAY for _, d in cd_ids]) if cd_ids else np.empty(0)
    lists = store.read(Reads([], np.empty(0), [keys.course_day(c) for c, _ in cd_ids], ends, MAX_RACES_A_DAY)).lasts
    races = [[p for p in got if p and p["o"] >= d] for (_, d), got in zip(cd_ids, lists, strict=True)]
    sizes = np.array([len(ps) for ps in races], dtype=np.intp)
    flat = [p for ps in races for p in ps]
    # par keys as integers: with the cutoffs' indices, each (key, cutoff) pair is one integer
    key_ids: dict[str, int] = {}
    run_key = _interned(pk, key_ids)
    race_key = _interned((p["k"] for p in flat), key_ids)
    race_wt = np.array([p["wt"] for p in flat], dtype=float)
    race_d = np.array([p["d"] for p in flat], dtype=float)
    # 2. a variant per (course, day, cutoff): the pars known at the cutoff
    cuts, cut_of_run = np.unique(run_cut, return_inverse=True)
    day_ids, run_day = np.unique(cd_of_run * len(cuts) + cut_of_run, return_inverse=True)
    day_cd, day_cut = day_ids // len(cuts), day_ids % len(cuts)
    lens = sizes[day_cd]
    race_day = np.repeat(np.arange(len(day_ids)), lens)
    within = np.arange(len(race_day)) - np.repeat(np.cumsum(lens) - lens, lens)
    race_row = (np.cumsum(sizes) - sizes)[day_cd][race_day] + within
    race_cut = day_cut[race_day]
    opened = _interned([open_key(k) for k in list(key_ids)], key_ids)  # each key's open-class key
    # 3. every (key, cutoff) pair either family needs, read in one go
    n_cuts = len(cuts)
    pairs = np.concatenate([run_key * n_cuts + cut_of_run, race_key[race_row] * n_cuts + race_cut])
    pairs = np.concatenate([pairs, opened[pairs // n_cuts] * n_cuts + pairs % n_cuts])
    wanted, at = np.unique(pairs, return_inverse=True)
    known = list(key_ids)
    par = _par_values(store, [known[k] for k in (wanted // n_cuts).tolist()], cuts[wanted % n_cuts])[at]
    m = len(race_day)
    par_run, par_race, par_run_open, par_race_open = np.split(par, [n, n + m, 2 * n + m])
    args = (
        race_day,
        race_wt[race_row],
        race_d[race_row],
        run_day,
        np.array(ft, dtype=float),
        np.array(dist, dtype=float),
        len(day_ids),
    )
    return _figures(par_run, par_race, *args), _figures(par_run_open, par_race_open, *args)


def _par_values(store: FeatureStore, par_keys: list[str], cutoffs: np.ndarray) -> np.ndarray:
    """Par (seconds) of each par key as of its cutoff; NaN where too few races."""
    if not par_keys:
        return np.empty(0)
    cums = store.read(Reads([keys.par(k) for k in par_keys], cutoffs)).cums
    n, total = cums[:, 0], cums[:, 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n >= MIN_PAR_RACES, total / np.maximum(n, 1) / 1000.0, NAN)


_FORM_FIELDS = ("ft", "pk", "bl", "ep", "bw")
_form_getter = itemgetter(*_FORM_FIELDS)


def _form_fields(run: dict) -> tuple:
    """A run's form-book fields (see :func:`velo.keys.decode_run` for a run
    stored before the form book)."""
    try:
        return _form_getter(run)
    except KeyError:
        return _form_getter(keys.decode_run(run))


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
    got = [_form_fields(runs[k]) for k in idx]
    timed_at = [i for i, g in enumerate(got) if g[0] and g[1] is not None]
    timed = [idx[i] for i in timed_at]
    figure = np.full(len(idx), NAN)
    figure_open = np.full(len(idx), NAN)
    fig, fig_open = _timed_figures(store, runs, timed, cut[owner[np.array(timed, dtype=np.intp)]])
    figure[timed_at], figure_open[timed_at] = fig, fig_open

    out = np.full((R, len(FORM_COLUMNS)), NAN)
    sel = np.array(idx, dtype=np.intp)
    if len(sel):
        own = owner[sel]
        newest = depth[sel] == 0
        out[:, [0, 1, 2]] = _last_best_mean(own, newest, figure, R)
        out[:, [10, 11, 12]] = _last_best_mean(own, newest, figure_open, R)
        out[:, 3] = out[:, 0] - group_mean(own[~newest], figure[~newest], R)
        _, _, bl_, ep_, bw_ = zip(*got, strict=True)
        bl, ep, bw = (np.array(x, dtype=float) for x in (bl_, ep_, bw_))  # None -> NaN
        bl = np.minimum(bl, MAX_LENGTHS)
        out[own[newest], 4] = bl[newest]
        out[:, 5] = group_mean(own, bl, R)
        out[:, 6] = group_mean(own, ep, R)
        last_bw = np.full(R, NAN)
        last_bw[own[newest]] = bw[newest]
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
