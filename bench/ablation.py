"""Feature-group ablation on the Hong Kong walk-forward, written to BENCHMARKS.md.

For each SQPE feature category, the category's columns are blanked (all
missing: SQPE then holds them at 0, which is the same as dropping them) and
SQPE is refitted for every test season (2001-2005), each on the seasons
before it only, exactly as the walk-forward's final stage one is. The table
shows what each group adds to SQPE out of sample. Only SQPE is refitted: on
Hong Kong the combined model is the final-odds market (see the backtest
section), so the groups' worth shows in the fundamental model alone, and the
full pipeline would take four times as long.

Usage: python bench/ablation.py [--groups "speed figure" pace ...]
(reads bench/results/hk_benter.parquet, written by bench/backtest.py)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import RESULTS, machine, update_section, write_result
from velo.engines.race import race_index
from velo.features.definitions import SQPE, SQPE_FEATURES
from velo.metrics import race_scores
from velo.training.dataset import load_training_frame
from velo.training.pipeline import TrainConfig, fit_stage_one
from velo.training.splits import period_label

TEST_FROM = pd.Timestamp("2000-09-01", tz="UTC")


def sqpe_walk_forward(frame: pd.DataFrame, blank: list[str]) -> dict:
    """Pooled out-of-sample SQPE pseudo-R² over the test seasons, with the
    ``blank`` columns all missing."""
    frame = frame.copy()
    frame[blank] = np.nan
    labels = period_label(frame["off_time"], "season")
    test = frame["off_time"] >= TEST_FROM
    config = TrainConfig()
    t = time.perf_counter()
    probs, rows = [], []
    for p in sorted(labels[test].unique()):
        period = test & (labels == p)
        train = frame[frame["off_time"] < frame.loc[period, "off_time"].min()]
        sqpe, _ = fit_stage_one(train, config)
        held = frame[period]
        probs.append(sqpe.predict_race(held[SQPE_FEATURES].to_numpy(), race_index(held["race_id"].to_numpy())))
        rows.append(held)
    held = pd.concat(rows)
    r2 = race_scores(np.concatenate(probs), held["won"].to_numpy(), held["race_id"].to_numpy())["pseudo_r2"]
    return {"sqpe": r2, "seconds": round(time.perf_counter() - t, 1)}


def main() -> None:
    categories = list(dict.fromkeys(f.category for f in SQPE))
    ap = argparse.ArgumentParser()
    ap.add_argument("--groups", nargs="+", default=categories, choices=categories)
    ap.add_argument("--data", type=Path, default=RESULTS / "hk_benter.parquet")
    args = ap.parse_args()
    frame, _ = load_training_frame(args.data, progress=False)
    frame = frame.sort_values(["off_time", "race_id", "runner_id"], kind="stable").reset_index(drop=True)
    full = sqpe_walk_forward(frame, [])
    print(f"all features: SQPE {full['sqpe']:.4f} ({full['seconds']}s)", flush=True)
    rows = {}
    for g in args.groups:
        rows[g] = sqpe_walk_forward(frame, [f.name for f in SQPE if f.category == g])
        print(f"without {g}: SQPE {rows[g]['sqpe']:.4f} ({rows[g]['sqpe'] - full['sqpe']:+.4f})", flush=True)
    write_result("ablation", {"all": full, "without": rows, "machine": machine()})
    m = machine()
    lines = [
        "## Feature-group ablation (`bench/ablation.py`)",
        "",
        f"Command: `.venv/bin/python bench/ablation.py` · machine: {m['cpu']}, {m['cores']} cores · "
        f"commit {m['commit']} · {m['when']}",
        "",
        "Hong Kong, test seasons 2001-2005 (3,863 races). Each row blanks one SQPE feature group and refits SQPE",
        'for every season on the seasons before it. "Adds" is what the group is worth: out-of-sample pseudo-R²',
        "with every feature minus without the group (negative: SQPE is better without it). Groups overlap (lengths",
        "and positions both say how far behind a horse finished), so a group's worth here is what the others do",
        "not already carry.",
        "",
        f"All features: SQPE **{full['sqpe']:.4f}**.",
        "",
        "| group | features | SQPE without | the group adds |",
        "|---|---|---|---|",
    ]
    for g, r in sorted(rows.items(), key=lambda kv: kv[1]["sqpe"]):
        n = sum(1 for f in SQPE if f.category == g)
        lines.append(f"| {g} | {n} | {r['sqpe']:.4f} | {full['sqpe'] - r['sqpe']:+.4f} |")
    update_section("ablation", "\n".join(lines))


if __name__ == "__main__":
    main()
