"""Feature-group ablation on the Hong Kong walk-forward, written to BENCHMARKS.md.

For each SQPE feature category, the category's columns are blanked (all
missing: SQPE then holds them at 0, which is the same as dropping them) and
the whole walk-forward is refitted: test seasons 2001-2005, each trained only
on earlier seasons, final tote odds as the market input. The table shows
what each group adds to SQPE and to the combined model, out of sample.

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
from velo.backtest.walkforward import walk_forward
from velo.features.definitions import SQPE
from velo.training.dataset import load_training_frame

TEST_FROM = pd.Timestamp("2000-09-01", tz="UTC")


def run(frame: pd.DataFrame, group: str | None) -> dict:
    if group is not None:
        frame = frame.copy()
        frame[[f.name for f in SQPE if f.category == group]] = np.nan
    t = time.perf_counter()
    report, _ = walk_forward(frame, TEST_FROM, None, "season")
    o = report["overall"]
    return {"sqpe": o["sqpe"]["pseudo_r2"], "model": o["model"]["pseudo_r2"],
            "market": o["market_pre"]["pseudo_r2"], "seconds": round(time.perf_counter() - t, 1)}  # fmt: skip


def main() -> None:
    categories = list(dict.fromkeys(f.category for f in SQPE))
    ap = argparse.ArgumentParser()
    ap.add_argument("--groups", nargs="+", default=categories, choices=categories)
    ap.add_argument("--data", type=Path, default=RESULTS / "hk_benter.parquet")
    args = ap.parse_args()
    frame, _ = load_training_frame(args.data, progress=False)
    full = run(frame, None)
    print(f"all features: SQPE {full['sqpe']:.4f}, combined {full['model']:.4f}", flush=True)
    rows = {}
    for g in args.groups:
        rows[g] = run(frame, g)
        print(f"without {g}: SQPE {rows[g]['sqpe']:.4f} ({rows[g]['sqpe'] - full['sqpe']:+.4f})", flush=True)
    write_result("ablation", {"all": full, "without": rows, "machine": machine()})
    m = machine()
    lines = [
        "## Feature-group ablation (`bench/ablation.py`)",
        "",
        f"Command: `.venv/bin/python bench/ablation.py` · machine: {m['cpu']}, {m['cores']} cores · "
        f"commit {m['commit']} · {m['when']}",
        "",
        "Hong Kong walk-forward, test seasons 2001-2005 (3,863 races), final tote odds as the market input. Each row",
        'blanks one SQPE feature group and refits every season. "Adds" is what the group is worth: pseudo-R² with',
        "every feature minus pseudo-R² without the group (negative: the model is better without it).",
        "",
        f"All features: SQPE **{full['sqpe']:.4f}**, combined {full['model']:.4f}, market {full['market']:.4f}.",
        "",
        "| group | features | SQPE without | SQPE adds | combined without |",
        "|---|---|---|---|---|",
    ]
    for g, r in rows.items():
        n = sum(1 for f in SQPE if f.category == g)
        lines.append(f"| {g} | {n} | {r['sqpe']:.4f} | {full['sqpe'] - r['sqpe']:+.4f} | {r['model']:.4f} |")
    update_section("ablation", "\n".join(lines))


if __name__ == "__main__":
    main()
