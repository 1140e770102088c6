"""Hong Kong 1997-2005 (``hkracing/``: races.csv + runs.csv.gz).

``win_odds`` are final tote odds: they become ``price_final`` (benchmark and
settlement only). The source has no price known before the off, so
``price_pre`` stays empty unless ``final_as_pre`` is set: that reproduces
Benter's setting (final pool odds as the public estimate, assuming bets are
struck in the last seconds) and any report built on it must say so.

Dates in this source are shifted by the publisher and there are no off times,
so ``off_time`` is synthetic: Sha Tin races from 12:30 HKT, 35 minutes apart;
Happy Valley from 19:15 HKT, 30 minutes apart. Only the order matters.

The form book comes from ``runs.csv``: ``finish_time``, ``lengths_behind``,
``position_sec1..6`` (running positions), ``time1..6`` (the runner's
sectional times) and ``declared_weight`` (body weight, lb, weighed before
the race). The source writes 999 for "not recorded"; those are left empty.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from velo.data.canonical import normalise
from velo.data.report import LoadReport

LB_TO_KG = 0.45359237
_SEX = {"Gelding": "G", "Horse": "H", "Colt": "C", "Mare": "M", "Filly": "F", "Rig": "R"}
#: The source's value for "not recorded" in lengths, times and positions.
_NOT_RECORDED = 999

_VENUE = {"ST": ("Sha Tin", 12 * 60 + 30, 35), "HV": ("Happy Valley", 19 * 60 + 15, 30)}


def load(path: str | Path, final_as_pre: bool = False) -> tuple[pd.DataFrame, LoadReport]:
    """Load the folder holding ``races.csv`` and ``runs.csv(.gz)``."""
    path = Path(path)
    runs_path = path / "runs.csv.gz" if (path / "runs.csv.gz").exists() else path / "runs.csv"
    missing = [p.name for p in (path / "races.csv", runs_path) if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"{path} is not a Hong Kong 1997-2005 folder (--source hk): it has no "
            f"{' and no '.join(missing)}; other layouts need converting to the canonical "
            "format first (docs/data-format.md)"
        )
    races = pd.read_csv(path / "races.csv")
    runs = pd.read_csv(runs_path)
    report_pre = LoadReport(source=f"hk {path}", rows_read=len(runs))
    runs["_line"] = np.arange(len(runs)) + 2
    # both files have time1..: the runner's sectionals keep their names
    merged = runs.merge(races, on="race_id", how="left", validate="many_to_one", indicator=True, suffixes=("", "_race"))
    orphan = merged["_merge"] != "both"
    for line in merged.loc[orphan, "_line"]:
        report_pre.skip(f"{runs_path.name} line {line}", "race_id not in races.csv")
    merged = merged.loc[~orphan]

    venue = merged["venue"].map(lambda v: _VENUE.get(v, (v, 12 * 60, 30)))
    first = venue.map(lambda v: v[1])
    gap = venue.map(lambda v: v[2])
    minutes = first + gap * (merged["race_no"].astype(int) - 1)
    local = pd.to_datetime(merged["date"], errors="coerce") + pd.to_timedelta(minutes, unit="m")
    off_time = local.dt.tz_localize("Asia/Hong_Kong").dt.tz_convert("UTC")

    gear = merged["horse_gear"].astype("string").replace({"--": pd.NA})
    recorded = {c: _recorded(merged, c) for c in ("finish_time", "lengths_behind")}
    declared = pd.to_numeric(merged.get("declared_weight", pd.Series(np.nan, index=merged.index)), errors="coerce")
    out = pd.DataFrame(
        {
            "race_id": "hk-" + merged["race_id"].astype(str),
            "off_time": off_time.dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "course": venue.map(lambda v: v[0]),
            "distance_m": merged["distance"],
            "runner_id": "hk-h" + merged["horse_id"].astype(str),
            "won": merged["won"],
            "result": merged["result"],
            "price_pre": merged["win_odds"] if final_as_pre else np.nan,
            "price_final": merged["win_odds"],
            "going": merged["going"],
            "race_class": merged["race_class"].astype(str),
            "surface": merged["surface"].map({0: "turf", 1: "dirt"}),
            "race_type": "flat",
            "draw": merged["draw"],
            "weight_carried": (merged["actual_weight"] * LB_TO_KG).round(2),
            "age": merged["horse_age"],
            "sex": merged["horse_type"].map(_SEX),
            "rating": merged["horse_rating"],
            "jockey_id": "hk-j" + merged["jockey_id"].astype(str),
            "trainer_id": "hk-t" + merged["trainer_id"].astype(str),
            "gear": gear,
            "prize": merged["prize"],
            "horse_no": merged["horse_no"],
            "body_weight": (declared * LB_TO_KG).round(1),
            "finish_time": recorded["finish_time"],
            "beaten_lengths": recorded["lengths_behind"],
            "running_positions": _joined(merged, "position_sec", integers=True),
            "sectional_times": _joined(merged, "time", integers=False),
        }
    )
    df, report = normalise(out, source=f"hk {path}")
    report.rows_read = report_pre.rows_read
    report.rows_skipped += report_pre.rows_skipped
    report.problems = report_pre.problems + report.problems
    report.reasons.update(report_pre.reasons)
    return df, report


def _recorded(frame: pd.DataFrame, column: str) -> pd.Series:
    """A numeric column with the source's "not recorded" (999) as missing;
    all missing if the file lacks it."""
    if column not in frame.columns:
        return pd.Series(np.nan, index=frame.index)
    x = pd.to_numeric(frame[column], errors="coerce")
    return x.where(x < _NOT_RECORDED)


def _joined(frame: pd.DataFrame, prefix: str, integers: bool) -> pd.Series:
    """``prefix1..6`` as one space-separated list, up to the first gap (the
    canonical list format); missing when the first is missing."""
    cols = [f"{prefix}{i}" for i in range(1, 7) if f"{prefix}{i}" in frame.columns]
    if not cols:
        return pd.Series(pd.NA, index=frame.index, dtype="string")
    values = np.column_stack([_recorded(frame, c).to_numpy(dtype=float) for c in cols])
    values = np.where(values > 0, values, np.nan)
    out = []
    for row in values.tolist():
        parts = []
        for v in row:
            if v != v:  # NaN: the list ends at its first gap
                break
            parts.append(str(int(v)) if integers else f"{v:g}")
        out.append(" ".join(parts) if parts else None)
    return pd.Series(out, index=frame.index, dtype="string")
