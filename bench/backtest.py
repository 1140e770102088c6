"""Walk-forward backtests on the real data, written to BENCHMARKS.md.

Cases:
- hk_benter: Hong Kong, test seasons 2001-2005 (2000-09 .. 2005-08), each
  trained only on earlier seasons, with final tote odds as the market input
  (Benter's setting; `velo data convert --hk-final-as-pre`).
- hk_strict: the same without any market input (the source has no pre-off
  price): the fundamental-only model against the final-odds benchmark.
- anz: Betfair ANZ, monthly walk-forward from 2025-07, against BSP.

Usage: python bench/backtest.py [--reuse] [--cases hk_benter hk_strict anz]
(--reuse takes existing reports under bench/results/backtest-*/).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import RESULTS, machine, update_section, write_result

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
VELO = [sys.executable, "-m", "velo.cli.main"]
CASES = {
    "hk_benter": {
        "convert": ["--source", "hk", "--hk-final-as-pre", "--input", str(DATA / "hkracing")],
        "backtest": ["--test-from", "2000-09-01", "--period", "season"],
        "label": "Hong Kong 2001-2005 seasons, final tote odds as market input (Benter's setting)",
    },
    "hk_strict": {
        "convert": ["--source", "hk", "--input", str(DATA / "hkracing")],
        "backtest": ["--test-from", "2000-09-01", "--period", "season"],
        "label": "Hong Kong 2001-2005 seasons, no market input (no pre-off price exists)",
    },
    "anz": {
        "convert": ["--source", "anz", "--input", str(DATA / "betfair_anz_thoroughbreds")],
        "backtest": ["--test-from", "2025-07-01", "--period", "month"],
        "label": "Betfair ANZ, monthly from 2025-07, market = best back at the scheduled off, benchmark = BSP",
    },
}


def run_case(name: str, reuse: bool) -> tuple[dict, float | None]:
    out = RESULTS / f"backtest-{name}"
    report = out / "report.json"
    if reuse and report.exists():
        return json.loads(report.read_text()), None
    data = RESULTS / f"{name}.parquet"
    case = CASES[name]
    subprocess.run([*VELO, "data", "convert", *case["convert"], "--output", str(data)], check=True)
    t = time.perf_counter()
    subprocess.run([*VELO, "backtest", "--data", str(data), *case["backtest"], "--out", str(out)], check=True)
    return json.loads(report.read_text()), time.perf_counter() - t


def fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.4f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reuse", action="store_true")
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    args = ap.parse_args()
    rows, results = [], {}
    for name in args.cases:
        rep, seconds = run_case(name, args.reuse)
        o = rep["overall"]
        r2 = {k: (o[k]["pseudo_r2"] if k in o else None) for k in ("model", "sqpe", "market_pre", "market_final")}
        bet = o.get("betting")
        roi = f"{bet['flat']['roi']:+.3f} ({bet['flat']['bets']} bets)" if bet and bet["flat"]["bets"] else "no bets"
        kelly = f"{bet['kelly']['roi']:+.3f}" if bet and bet["kelly"].get("roi") is not None else "–"
        results[name] = {"overall_pseudo_r2": r2, "n_races": o["model"]["n_races"], "seconds": seconds,
                         "betting": bet, "ece": o["calibration"]["ece"]}  # fmt: skip
        rows.append(
            f"| {CASES[name]['label']} | {o['model']['n_races']:,} | **{fmt(r2['model'])}** | {fmt(r2['sqpe'])} | "
            f"{fmt(r2['market_pre'])} | {fmt(r2['market_final'])} | {o['calibration']['ece']:.4f} | {roi} | {kelly} |"
        )
    write_result("backtest", {"cases": results, "machine": machine()})
    m = machine()
    update_section(
        "backtest",
        f"""## Walk-forward backtests (`bench/backtest.py`)

Command: `.venv/bin/python bench/backtest.py` (each case is `velo data convert` then `velo backtest`;
reports in `bench/results/backtest-*/`) · machine: {m["cpu"]}, {m["cores"]} cores · commit {m["commit"]} · {m["when"]}

Pseudo-R² is Benter's: 1 - (winner log-loss of the model) / (winner log-loss of 1/field), out of sample,
each period trained only on earlier data. Bets are struck only at decision-time prices; ROI is profit/turnover.

| case | races | combined model | SQPE (fundamental) | market, decision time | market, final price | ECE | ROI flat | ROI Kelly |
|---|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}
""",
    )


if __name__ == "__main__":
    main()
