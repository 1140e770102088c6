"""Backtest output: report.json, PNG plots and a terminal table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypedDict

from rich.console import Console
from rich.table import Table

from velo.metrics import json_safe
from velo.plotting import save_figure


class _LineStyle(TypedDict, total=False):
    """Keyword arguments of ``Axes.plot`` that style a line."""

    linestyle: str
    marker: str
    linewidth: float
    markerfacecolor: str


#: one per scope, in SCOPES' order
LINE_STYLES: list[_LineStyle] = [
    {"linestyle": "-", "marker": "o", "linewidth": 3.0}, {"linestyle": "-", "marker": "^"},
    {"linestyle": ":", "marker": "x", "linewidth": 2.0},
    {"linestyle": "--", "marker": "s", "markerfacecolor": "none"},
]  # fmt: skip
SCOPES = [("model", "combined model"), ("sqpe", "SQPE (fundamental only)"), ("market_pre", "market, decision-time"),
          ("market_final", "market, final price")]  # fmt: skip


def write_report(report: dict, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "report.json"
    path.write_text(json.dumps(json_safe(report), indent=2))
    return [path, *plots(report, out)]


def _walk_forward(report: dict) -> bool:
    """A walk-forward report, rather than a fixed model or served predictions."""
    return not {"from_topics", "model"} & set(report.get("data") or {})


def describe(report: dict) -> str:
    """Which model, which sample and which dates a report covers: every
    plot says it, so a picture is never read without its context."""
    data = report.get("data") or {}
    if _walk_forward(report):
        what = (
            f"walk-forward on {Path(str(data.get('data_file') or '')).name or 'the data'}: "
            "each period predicted by a model trained on earlier periods only"
        )
    else:
        what = (
            f"served predictions from {data['from_topics']}"
            if "from_topics" in data
            else f"model {data['model']} on {Path(str(data.get('data', ''))).name}"
        )
        if data.get("test_from"):
            what += f", races from {str(data['test_from'])[:10]}"
    periods = report.get("periods") or []
    return f"{what}; {periods[0]['period']} to {periods[-1]['period']}" if periods else what


def plots(report: dict, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    context = describe(report)
    written = []
    table = report["overall"]["calibration"]["table"]
    if table:
        fig, ax = plt.subplots(figsize=(6, 6))
        top = max(r["p_mean"] for r in table)
        ax.plot([0, top], [0, top], "--", color="grey")
        ax.plot([r["p_mean"] for r in table], [r["win_rate"] for r in table], "o-")
        for r in table:  # how many runners each bin holds: a point from 30 runners is not one from 3,000
            ax.annotate(
                f"n={r['n']:,}",
                (r["p_mean"], r["win_rate"]),
                textcoords="offset points",
                xytext=(4, -10),
                fontsize=7,
                color="dimgrey",
            )
        ax.set(
            xlabel="predicted win probability (combined model)",
            ylabel="observed win rate",
            title=f"Calibration, 10 quantile bins (ECE {report['overall']['calibration']['ece']:.4f})",
        )
        written.append(save_figure(fig, out / "calibration.png", context))
    curves = report.get("_curves")
    if curves:
        commission = ((report["overall"].get("betting") or {}).get("flat") or {}).get("commission", 0.0)
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
        for ax, key, title, ylabel in (
            (axes[0], "flat", "Cumulative P&L, flat 1-unit stakes", "units"),
            (axes[1], "kelly", "Bankroll, fractional Kelly (starts at 1)", "bankroll"),
        ):
            when = pd.to_datetime(curves.get(f"{key}_time") or [], utc=True)
            ys = curves[key]
            if not len(ys):
                ax.text(
                    0.5,
                    0.5,
                    "no bets: no edge survived the staking rules",
                    ha="center",
                    va="center",
                    transform=ax.transAxes,
                    color="dimgrey",
                )
            elif len(when) == len(ys):
                ax.step(when, ys, where="post")
                ax.tick_params(axis="x", rotation=30)
            else:
                ax.plot(ys)
            ax.set(
                title=f"{title}\nsettled per race, {commission:.0%} commission on net winnings",
                xlabel="race off date",
                ylabel=ylabel,
            )
        written.append(save_figure(fig, out / "pnl.png", context))
    periods = report["periods"]
    fig, ax = plt.subplots(figsize=(max(6, len(periods) * 0.5), 4.5))
    # lines often coincide (the combined model is the market where the second
    # stage chose it; Hong Kong's decision-time price is its final one): each
    # has its own line style and marker, later ones thinner and on top, so a
    # line lying on another still shows
    for z, ((key, label), style) in enumerate(zip(SCOPES, LINE_STYLES, strict=True)):
        ys = [p[key]["pseudo_r2"] if key in p else None for p in periods]
        if any(y is not None for y in ys):
            ax.plot([p["period"] for p in periods], ys, label=label, zorder=2 + z, **style)
    ax.set(
        title="Pseudo-R² per test period (out of sample)" if _walk_forward(report) else "Pseudo-R² per period",
        ylabel="pseudo-R² vs uniform",
    )
    ax.legend(fontsize=8)
    ax.tick_params(axis="x", rotation=45)
    written.append(save_figure(fig, out / "r2_by_period.png", context))
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
    console.print(
        f"model: log-loss {o['model']['logloss']:.4f}, Brier {o['model']['brier']:.5f}, "
        f"ECE {o['calibration']['ece']:.4f}, top-1 {o['model']['top1']:.3f} (favourite {fav})"
    )
