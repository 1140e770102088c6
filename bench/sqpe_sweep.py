"""SQPE alone on the Hong Kong walk-forward under variants: boosting rounds,
tree shape, the race part forced on, feature groups blanked.

Two windows:
- ``validation``: seasons 1998/99 and 1999/2000, each trained on the seasons
  before it. A setting is chosen here, before any test season is seen.
- ``test``: seasons 2000/01 to 2004/05 (the backtest's), for the figure.

Each run appends a JSON line to ``bench/results/sqpe_sweep.jsonl``; the
BENCHMARKS.md section is rendered from every line there.

Usage: python bench/sqpe_sweep.py --window validation base iter600 ...
       python bench/sqpe_sweep.py --render
(reads bench/results/hk_benter.parquet, written by bench/backtest.py)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import velo.engines.sqpe as sqpe_module
from bench.common import RESULTS, machine, update_section
from velo.engines.race import race_index
from velo.engines.sqpe import SQPE
from velo.features.definitions import SQPE as DEFINITIONS
from velo.features.definitions import SQPE_FEATURES
from velo.metrics import race_scores
from velo.training.dataset import load_training_frame
from velo.training.splits import period_label

LOG = RESULTS / "sqpe_sweep.jsonl"
WINDOWS = {
    "validation": ("1998-09-01", "2000-09-01"),
    "test": ("2000-09-01", "2100-01-01"),
}
FORM_BOOK = ("speed figure", "beaten lengths", "pace", "body weight")
MARKET_FORM = ["last_mkt_prob", "avg_mkt_prob_3"]


def _cols(*categories: str) -> list[str]:
    return [f.name for f in DEFINITIONS if f.category in categories]


#: name -> (SQPE parameters, columns blanked, race part forced on)
VARIANTS: dict[str, tuple[dict, list[str], bool]] = {
    "base": ({}, [], False),
    "no_formbook": ({}, _cols(*FORM_BOOK), False),
    "no_mktform": ({}, MARKET_FORM, False),
    "no_formbook_no_mktform": ({}, _cols(*FORM_BOOK) + MARKET_FORM, False),
    "iter600": ({"max_iter": 600}, [], False),
    "iter1200": ({"max_iter": 1200}, [], False),
    "iter1200_lr02": ({"max_iter": 1200, "learning_rate": 0.02}, [], False),
    "lr08": ({"learning_rate": 0.08}, [], False),
    "leaves15_msl100": ({"max_leaf_nodes": 15, "min_samples_leaf": 100}, [], False),
    "leaves3_iter800": ({"max_leaf_nodes": 3, "max_iter": 800}, [], False),
    "race": ({}, [], True),
    "iter600_race": ({"max_iter": 600}, [], True),
    "iter1200_race": ({"max_iter": 1200}, [], True),
}


def run(frame: pd.DataFrame, window: str, name: str) -> dict:
    params, blank, forced = VARIANTS[name]
    start, end = (pd.Timestamp(d, tz="UTC") for d in WINDOWS[window])
    f = frame.copy()
    if blank:
        f[blank] = np.nan
    labels = period_label(f["off_time"], "season")
    test = (f["off_time"] >= start) & (f["off_time"] < end)
    margin = sqpe_module.RACE_MARGIN
    sqpe_module.RACE_MARGIN = -np.inf if forced else margin
    t = time.perf_counter()
    probs, held = [], []
    try:
        for p in sorted(labels[test].unique()):
            period = test & (labels == p)
            train = f[f["off_time"] < f.loc[period, "off_time"].min()]
            model = SQPE(**params).fit(
                train[SQPE_FEATURES].to_numpy(), train["won"].to_numpy(), race_index(train["race_id"].to_numpy())
            )
            rows = f[period]
            probs.append(model.predict_race(rows[SQPE_FEATURES].to_numpy(), race_index(rows["race_id"].to_numpy())))
            held.append(rows)
    finally:
        sqpe_module.RACE_MARGIN = margin
    rows = pd.concat(held)
    r2 = race_scores(np.concatenate(probs), rows["won"].to_numpy(), rows["race_id"].to_numpy())["pseudo_r2"]
    return {
        "window": window,
        "name": name,
        "params": params,
        "race_part_forced": forced,
        "blank": blank,
        "races": int(rows["race_id"].nunique()),
        "sqpe": r2,
        "seconds": round(time.perf_counter() - t, 1),
        "commit": machine()["commit"],
    }


def render() -> None:
    lines = [json.loads(x) for x in LOG.read_text().splitlines()] if LOG.exists() else []
    latest = {(r["window"], r["name"]): r for r in lines}
    m = machine()
    out = [
        "## SQPE variants on the Hong Kong walk-forward (`bench/sqpe_sweep.py`)",
        "",
        f"Command: `.venv/bin/python bench/sqpe_sweep.py --window WINDOW VARIANT ...` · machine: {m['cpu']}, "
        f"{m['cores']} cores · rendered at commit {m['commit']} (each run's own commit in the table)",
        "",
        "SQPE alone, pooled out-of-sample pseudo-R². Validation: seasons 1998/99 and 1999/2000, each trained",
        "on the seasons before it; a setting should be chosen there. Test: the backtest's seasons 2000/01 to",
        '2004/05; choosing a setting by its test figure would be selection on the test set. "Race part',
        "forced\" keeps SQPE's conditional logit over the race even where its holdout rule drops it.",
        "",
        "| variant | parameters | race part forced | blanked | validation | test | commit |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in VARIANTS:
        val, tst = latest.get(("validation", name)), latest.get(("test", name))
        if val is None and tst is None:
            continue
        r = tst or val
        blank = f"{len(r['blank'])} columns" if r["blank"] else "–"
        cells = [f"{x['sqpe']:.4f} ({x['races']:,} races)" if x else "–" for x in (val, tst)]
        commits = sorted({x["commit"] for x in (val, tst) if x})
        out.append(
            f"| {name} | {r['params'] or 'defaults'} | {'yes' if r['race_part_forced'] else 'no'} | {blank} | "
            f"{cells[0]} | {cells[1]} | {', '.join(commits)} |"
        )
    update_section("sqpe_sweep", "\n".join(out))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("variants", nargs="*", help=f"any of: {', '.join(VARIANTS)}")
    ap.add_argument("--window", choices=list(WINDOWS), default="validation")
    ap.add_argument("--data", type=Path, default=RESULTS / "hk_benter.parquet")
    ap.add_argument("--render", action="store_true", help="only render BENCHMARKS.md from the log")
    args = ap.parse_args()
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown:
        ap.error(f"unknown variant(s) {', '.join(unknown)}; known: {', '.join(VARIANTS)}")
    if not args.render:
        frame, _ = load_training_frame(args.data, progress=False)
        frame = frame.sort_values(["off_time", "race_id", "runner_id"], kind="stable").reset_index(drop=True)
        for name in args.variants:
            result = run(frame, args.window, name)
            print(json.dumps(result), flush=True)
            with LOG.open("a") as fh:
                fh.write(json.dumps(result) + "\n")
    render()


if __name__ == "__main__":
    main()
