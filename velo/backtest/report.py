"""Backtest output: report.json, PNG plots and a terminal table."""

from __future__ import annotations

import json
import math
from pathlib import Path

from rich.console import Console
from rich.table import Table

SCOPES = [("model", "combined model"), ("sqpe", "SQPE (fundamental only)"), ("market_pre", "market, decision-time"),
          ("market_final", "market, final price")]  # fmt: skip


def _clean(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items() if not str(k).startswith("_")}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    return obj


def write_report(report: dict, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "report.json"
    path.write_text(json.dumps(_clean(report), indent=2))
    return [path, *plots(report, out)]


def plots(report: dict, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    table = report["overall"]["calibration"]["table"]
    if table:
        fig, ax = plt.subplots(figsize=(5, 5))
        ax.plot([0, max(r["p_mean"] for r in table)], [0, max(r["p_mean"] for r in table)], "--", color="grey")
        ax.plot([r["p_mean"] for r in table], [r["win_rate"] for r in table], "o-")
        ax.set(xlabel="predicted win probability", ylabel="observed win rate",
               title=f"Calibration (ECE {report['overall']['calibration']['ece']:.4f})")  # fmt: skip
        fig.tight_layout()
        fig.savefig(out / "calibration.png", dpi=110)
        plt.close(fig)
        written.append(out / "calibration.png")
    curves = report.get("_curves")
    if curves:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        axes[0].plot(curves["flat"])
        axes[0].set(title="Cumulative P&L, flat 1-unit stakes", xlabel="runner (time order)", ylabel="units")
        axes[1].plot(curves["kelly"])
        axes[1].set(title="Bankroll, fractional Kelly", xlabel="race (time order)", ylabel="bankroll")
        fig.tight_layout()
        fig.savefig(out / "pnl.png", dpi=110)
        plt.close(fig)
        written.append(out / "pnl.png")
    periods = report["periods"]
    fig, ax = plt.subplots(figsize=(max(5, len(periods) * 0.5), 4))
    for key, label in SCOPES:
        ys = [p[key]["pseudo_r2"] if key in p else None for p in periods]
        if any(y is not None for y in ys):
            ax.plot([p["period"] for p in periods], ys, "o-", label=label)
    ax.set(title="Pseudo-R² per test period", ylabel="pseudo-R² vs uniform")
    ax.legend()
    ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    fig.savefig(out / "r2_by_period.png", dpi=110)
    plt.close(fig)
    written.append(out / "r2_by_period.png")
    return written


def render(report: dict, console: Console | None = None) -> None:
    console = console or Console()
    served = report.get("settings", {}).get("mode") == "served predictions"
    t = Table(title="Served predictions, scored against results" if served else "Walk-forward backtest (out of sample)")
    t.add_column("period")
    t.add_column("races", justify="right")
    for _, label in SCOPES:
        t.add_column(f"R² {label}", justify="right")
    t.add_column("ROI flat", justify="right")
    t.add_column("bets", justify="right")

    def row(name: str, rep: dict) -> None:
        cells = [f"{rep[k]['pseudo_r2']:.4f}" if k in rep else "–" for k, _ in SCOPES]
        b = rep.get("betting")
        roi = f"{b['flat']['roi']:+.3f}" if b and b["flat"]["bets"] else "–"
        bets = str(b["flat"]["bets"]) if b else "no pre-off prices"
        t.add_row(name, str(rep["model"]["n_races"]), *cells, roi, bets)

    for p in report["periods"]:
        row(p["period"], p)
    row("overall", report["overall"])
    console.print(t)
    o = report["overall"]
    fav = "n/a" if o["favourite_top1"] is None else f"{o['favourite_top1']:.3f}"
    console.print(f"model: log-loss {o['model']['logloss']:.4f}, Brier {o['model']['brier']:.5f}, "
                  f"ECE {o['calibration']['ece']:.4f}, top-1 {o['model']['top1']:.3f} (favourite {fav})")  # fmt: skip
