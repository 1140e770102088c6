"""Betfair ANZ thoroughbred monthly files (``betfair_anz_thoroughbreds/``).

``price_pre`` is the best back price on offer at the scheduled off, falling
back to the pre-play volume-weighted average, then the last pre-play traded
price. ``price_final`` is BSP. Every post-off column (``*_INPLAY_*``,
``WIN_LAST_PRICE_TAKEN``, BSP volumes, PLACE results and prices, actual off
time) is dropped here, so none can reach a feature.

Times in the files are Australian Eastern time (Melbourne/Sydney clock, with
daylight saving), whatever the track; date and time formats vary by month.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from velo.data.canonical import normalise
from velo.data.report import LoadReport

#: Pre-off columns kept as extras (prefixed ``bf_``) for market events.
PRE_OFF_EXTRAS = {
    "BEST_AVAIL_LAY_AT_SCHEDULED_OFF": "bf_lay_pre",
    "BEST_AVAIL_BACK_AT_SCHEDULED_OFF": "bf_back_pre",
    "WIN_PREPLAY_WEIGHTED_AVERAGE_PRICE_TAKEN": "bf_preplay_wap",
    "WIN_PREPLAY_MAX_PRICE_TAKEN": "bf_preplay_max",
    "WIN_PREPLAY_MIN_PRICE_TAKEN": "bf_preplay_min",
    "WIN_PREPLAY_LAST_PRICE_TAKEN": "bf_preplay_last",
    "WIN_PREPLAY_VOLUME": "bf_preplay_volume",
    "BACK_MARKET_PERCENTAGE_AT_SCHEDULED_OFF": "bf_back_book_pct",
    "TAB_NUMBER": "tab_number",
    "STATE_CODE": "state_code",
    "WIN_MARKET_NAME": "market_name",
}
_NUMERIC_EXTRAS = [c for c in PRE_OFF_EXTRAS if c not in ("STATE_CODE", "WIN_MARKET_NAME")]
#: Columns that are known only after the off; never read.
POST_OFF = [
    "ACTUAL_OFF_TIME", "WIN_BSP_VOLUME", "WIN_INPLAY_MAX_PRICE_TAKEN", "WIN_INPLAY_MIN_PRICE_TAKEN",
    "WIN_LAST_PRICE_TAKEN", "WIN_INPLAY_WEIGHTED_AVERAGE_PRICE_TAKEN", "WIN_INPLAY_VOLUME", "PLACE_RESULT",
    "PLACE_BSP", "PLACE_BSP_VOLUME", "PLACE_MAX_PRICE_TAKEN", "PLACE_MIN_PRICE_TAKEN", "PLACE_LAST_PRICE_TAKEN",
    "PLACE_WEIGHTED_AVERAGE_PRICE_TAKEN", "PLACE_PREPLAY_VOLUME",
]  # fmt: skip

_CLASS = re.compile(r"^(CL\d|Grp\d|Listed|BM\d+|Mdn)$", re.IGNORECASE)


def _parse_local_times(date: pd.Series, time: pd.Series) -> pd.Series:
    """Meeting date + scheduled time in any of the files' formats -> UTC."""
    d = date.astype(str).str.strip()
    t = time.astype(str).str.strip().str.replace(r"\.\d+$", "", regex=True)
    iso = pd.to_datetime(d, format="%Y-%m-%d", errors="coerce")
    dmy = pd.to_datetime(d, format="%d/%m/%Y", errors="coerce")
    day = iso.fillna(dmy)
    t24 = pd.to_timedelta(t.where(~t.str.contains("M", case=False)), errors="coerce")
    t12 = pd.to_datetime(t.where(t.str.contains("M", case=False)), format="%I:%M:%S %p", errors="coerce")
    t12 = t12 - t12.dt.normalize()
    local = day + t24.fillna(t12)
    return local.dt.tz_localize("Australia/Sydney", ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")


def _race_class(race_type: pd.Series) -> pd.Series:
    s = race_type.astype("string").str.strip()
    return s.where(s.str.match(_CLASS).fillna(False))


def _prefixed(ids: pd.Series) -> pd.Series:
    """``bf-<id>``; an empty id stays empty so validation names it."""
    s = ids.str.strip().str.replace(r"\.0$", "", regex=True)
    return ("bf-" + s).where(s != "")


def load_file(path: Path, report: LoadReport) -> pd.DataFrame:
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    report.rows_read += len(raw)
    raw = raw.drop(columns=[c for c in POST_OFF if c in raw.columns])
    off = _parse_local_times(raw["LOCAL_MEETING_DATE"], raw["SCHEDULED_RACE_TIME"])
    for i in np.flatnonzero(off.isna().to_numpy()):
        report.skip(
            f"{path.name} line {i + 2}",
            f"unreadable date/time {raw['LOCAL_MEETING_DATE'].iat[i]!r} {raw['SCHEDULED_RACE_TIME'].iat[i]!r}",
        )
    keep = off.notna()
    raw, off = raw.loc[keep], off.loc[keep]
    num = {c: pd.to_numeric(raw[c].replace("", np.nan), errors="coerce") for c in _NUMERIC_EXTRAS if c in raw}
    price_pre = (
        num["BEST_AVAIL_BACK_AT_SCHEDULED_OFF"]
        .fillna(num["WIN_PREPLAY_WEIGHTED_AVERAGE_PRICE_TAKEN"])
        .fillna(num["WIN_PREPLAY_LAST_PRICE_TAKEN"])
    )
    price_pre = price_pre.where(price_pre > 1.0)
    bsp = pd.to_numeric(raw["WIN_BSP"].replace("", np.nan), errors="coerce")
    out = pd.DataFrame(
        {
            "race_id": _prefixed(raw["WIN_MARKET_ID"]),
            "off_time": off.dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "course": raw["TRACK"],
            # a few rows lack DISTANCE; the market name ("R2 1400 Hcap") still has it
            "distance_m": raw["DISTANCE"].where(
                raw["DISTANCE"].str.strip() != "", raw["WIN_MARKET_NAME"].str.extract(r"\b(\d{3,4})m?\b")[0]
            ),
            "runner_id": _prefixed(raw["SELECTION_ID"]),
            "won": (raw["WIN_RESULT"].str.strip() == "WINNER").astype(int).where(raw["WIN_RESULT"].str.strip() != ""),
            "result": np.where(raw["WIN_RESULT"].str.strip() == "WINNER", "1", ""),
            "price_pre": price_pre,
            "price_final": bsp.where(bsp > 1.0),
            "race_class": _race_class(raw["RACE_TYPE"]),
            "race_type": raw["RACE_TYPE"],
            "horse_name": raw["SELECTION_NAME"],
            "_file": path.name,
            "_src_line": raw.index + 2,
        }
    )
    for src, dst in PRE_OFF_EXTRAS.items():
        if src in raw:
            out[dst] = num[src] if src in num else raw[src]
    return out


def monthly_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = sorted(path.glob("ANZ_Thoroughbreds_*.csv*"))
    if not files:
        raise FileNotFoundError(
            f"{path} is not a Betfair ANZ folder (--source anz): no ANZ_Thoroughbreds_*.csv(.gz) files"
        )
    return files


def load(path: str | Path, months: int | None = None) -> tuple[pd.DataFrame, LoadReport]:
    """Load one monthly file or a folder of them (the first ``months`` if given)."""
    path = Path(path)
    report = LoadReport(source=f"anz {path}")
    files = monthly_files(path)[:months] if months else monthly_files(path)
    parts = [load_file(f, report) for f in files]
    frame = pd.concat(parts, ignore_index=True)
    locations = frame.pop("_file") + " line " + frame.pop("_src_line").astype(str)
    df, inner = normalise(frame, source=report.source)
    # normalise() numbers rows of the combined frame; map them back to file lines.
    report.problems += [_relocate(p, locations) for p in inner.problems]
    report.rows_skipped += inner.rows_skipped
    report.values_cleared += inner.values_cleared
    report.reasons.update(inner.reasons)
    report.rows_kept, report.races = inner.rows_kept, inner.races
    return df, report


def _relocate(problem: str, locations: pd.Series) -> str:
    m = re.match(r"line (\d+): (.*)", problem)
    if not m:
        return problem
    return f"{locations.iat[int(m.group(1)) - 2]}: {m.group(2)}"
