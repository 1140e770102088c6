"""Hong Kong 1997-2005 (``hkracing/``: races.csv + runs.csv.gz).

``win_odds`` are final tote odds: they become ``price_final`` (benchmark and
settlement only). The source has no price known before the off, so
``price_pre`` stays empty unless ``final_as_pre`` is set: that reproduces
Benter's setting (final pool odds as the public estimate, assuming bets are
struck in the last seconds) and any report built on it must say so.

Dates in this source are shifted by the publisher and there are no off times,
so ``off_time`` is synthetic: Sha Tin races from 12:30 HKT, 35 minutes apart;
Happy Valley from 19:15 HKT, 30 minutes apart. Only the order matters.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from velo.data.canonical import normalise
from velo.data.report import LoadReport

LB_TO_KG = 0.45359237
_SEX = {"Gelding": "G", "Horse": "H", "Colt": "C", "Mare": "M", "Filly": "F", "Rig": "R"}
_VENUE = {"ST": ("Sha Tin", 12 * 60 + 30, 35), "HV": ("Happy Valley", 19 * 60 + 15, 30)}


def load(path: str | Path, final_as_pre: bool = False) -> tuple[pd.DataFrame, LoadReport]:
    """Load the folder holding ``races.csv`` and ``runs.csv(.gz)``."""
    path = Path(path)
    runs_path = path / "runs.csv.gz" if (path / "runs.csv.gz").exists() else path / "runs.csv"
    races = pd.read_csv(path / "races.csv")
    runs = pd.read_csv(runs_path)
    report_pre = LoadReport(source=f"hk {path}", rows_read=len(runs))
    runs["_line"] = np.arange(len(runs)) + 2
    merged = runs.merge(races, on="race_id", how="left", validate="many_to_one", indicator=True)
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
        }
    )
    df, report = normalise(out, source=f"hk {path}")
    report.rows_read = report_pre.rows_read
    report.rows_skipped += report_pre.rows_skipped
    report.problems = report_pre.problems + report.problems
    report.reasons.update(report_pre.reasons)
    return df, report
