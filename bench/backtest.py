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


def run_case(name: str, reuse: bool) -> tuple[dict, dict]:
    """The case's report and its run: seconds and the commit it ran at (a
    reused report keeps the commit of the run that made it)."""
    out = RESULTS / f"backtest-{name}"
    report, run = out / "report.json", out / "run.json"
    if reuse and report.exists():
        return json.loads(report.read_text()), json.loads(run.read_text()) if run.exists() else {}
    data = RESULTS / f"{name}.parquet"
    case = CASES[name]
    commit = machine()["commit"]
    subprocess.run([*VELO, "data", "convert", *case["convert"], "--output", str(data)], check=True)
    t = time.perf_counter()
    subprocess.run([*VELO, "backtest", "--data", str(data), *case["backtest"], "--out", str(out)], check=True)
    info = {"seconds": round(time.perf_counter() - t, 1), "commit": commit}
    run.write_text(json.dumps(info))
    return json.loads(report.read_text()), info


def fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.4f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reuse", action="store_true")
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    args = ap.parse_args()
    rows, results = [], {}
    for name in args.cases:
        rep, run = run_case(name, args.reuse)
        o = rep["overall"]
        r2 = {k: (o[k]["pseudo_r2"] if k in o else None) for k in ("model", "sqpe", "market_pre", "market_final")}
        bet = o.get("betting")
        roi = f"{bet['flat']['roi']:+.3f} ({bet['flat']['bets']} bets)" if bet and bet["flat"]["bets"] else "no bets"
        kelly = f"{bet['kelly']['roi']:+.3f}" if bet and bet["kelly"].get("roi") is not None else "–"
        gap = None
        if r2["market_pre"] is not None and r2["market_final"] is not None and r2["market_final"] > r2["market_pre"]:
            gap = (r2["model"] - r2["market_pre"]) / (r2["market_final"] - r2["market_pre"])
        chosen = [p["coefficients"].get("chosen") for p in rep["periods"]]
        results[name] = {"overall_pseudo_r2": r2, "n_races": o["model"]["n_races"], "seconds": run.get("seconds"),
                         "commit": run.get("commit"), "betting": bet, "ece": o["calibration"]["ece"],
                         "gap_closed": gap, "chosen": chosen}  # fmt: skip
        rows.append(
            f"| {CASES[name]['label']} (commit {run.get('commit', '?')}) | {o['model']['n_races']:,} | "
            f"**{fmt(r2['model'])}** | {fmt(r2['sqpe'])} | "
            f"{fmt(r2['market_pre'])} | {fmt(r2['market_final'])} | {'–' if gap is None else f'{gap:+.1%}'} | "
            f"{', '.join(c or '–' for c in chosen)} | {o['calibration']['ece']:.4f} | {roi} | {kelly} |"
        )
    write_result("backtest", {"cases": results, "machine": machine()})
    m = machine()
    update_section(
        "backtest",
        f"""## Walk-forward backtests (`bench/backtest.py`)

Command: `.venv/bin/python bench/backtest.py` (each case is `velo data convert` then `velo backtest`;
reports in `bench/results/backtest-*/`, each case's commit beside it) · machine: {m["cpu"]}, {m["cores"]} cores · {m["when"]}

Pseudo-R² is Benter's: 1 - (winner log-loss of the model) / (winner log-loss of 1/field), out of sample,
each period trained only on earlier data. Bets are struck only at decision-time prices; ROI is profit/turnover.

"Gap closed" is (combined - market at decision time) / (final price - market at decision time): how much of
what the market learns after the decision the model anticipates. "Second stage" is the orchestrator's
choice per period (market, market_power, market_signals or full; see `velo/engines/orchestrator.py`).

| case | races | combined model | SQPE (fundamental) | market, decision time | market, final price | gap closed | second stage per period | ECE | ROI flat | ROI Kelly |
|---|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}
""",
    )


if __name__ == "__main__":
    main()
