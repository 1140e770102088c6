"""Champion against challenger on the same races, from the labelled log.

The unit of evidence is the race: both models' per-race log-loss (Benter's
measure, the log of the winner's normalised probability) on the races both
scored, and the paired difference ``champion - challenger`` (positive: the
challenger is better). Races are independent draws, so a bootstrap over races
gives the uncertainty of the mean difference without assuming its shape (the
per-race differences are heavy-tailed: one confident miss costs several
nats); a Diebold-Mariano statistic (mean over its standard error, for
independent losses) is reported beside it.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from velo.backtest.metrics import betting
from velo.metrics import calibration, json_safe, per_race_logloss, race_scores
from velo.mlops.labelled import Coverage, LabelledLogError, paired
from velo.plotting import save_figure


@dataclass
class ModelSummary:
    version: str
    role: str
    scores: dict[str, float]
    ece: float
    calibration: list[dict[str, float]]
    betting: dict[str, dict[str, float]] | None = field(default=None)


@dataclass
class PairedTest:
    """Mean per-race improvement (champion - challenger log-loss, nats) and its uncertainty."""

    n_races: int
    mean_improvement: float
    sd: float
    ci_low: float  # two-sided interval at ``confidence``
    ci_high: float
    lower_bound: float  # one-sided bound at ``confidence``: what the policy reads
    prob_better: float  # share of bootstrap means above zero
    dm_stat: float
    dm_p: float  # one-sided p of "the challenger is no better"
    confidence: float
    n_boot: int


@dataclass
class Comparison:
    model_name: str
    champion: str
    challenger: str
    prob: str
    summaries: list[ModelSummary]
    test: PairedTest
    race_ids: list[str] = field(repr=False)
    improvement: np.ndarray = field(repr=False)  # per race, time order
    curves: dict[str, dict[str, list[float]]] = field(default_factory=dict, repr=False)
    #: races used, races with and without an outcome, repeated rows (when compare() was given a Coverage)
    coverage: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "model_name": self.model_name,
            "champion": self.champion,
            "challenger": self.challenger,
            "prob": self.prob,
            "summaries": [asdict(s) for s in self.summaries],
            "test": asdict(self.test),
        }
        if self.coverage:
            out["coverage"] = self.coverage
        return json_safe(out)


def paired_bootstrap(d: np.ndarray, confidence: float = 0.95, n_boot: int = 2000, seed: int = 0) -> PairedTest:
    """Bootstrap over races of the mean of ``d`` (one value per race)."""
    d = np.asarray(d, dtype=float)
    n = len(d)
    if n == 0:
        raise ValueError("no races to compare")
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    chunk = max(1, 2_000_000 // n)
    for start in range(0, n_boot, chunk):
        k = min(chunk, n_boot - start)
        means[start : start + k] = d[rng.integers(0, n, size=(k, n))].mean(axis=1)
    alpha = 1.0 - confidence
    sd = float(d.std(ddof=1)) if n > 1 else float("nan")
    se = sd / math.sqrt(n) if n > 1 else float("nan")
    dm = float(d.mean() / se) if se and math.isfinite(se) and se > 0 else float("nan")
    return PairedTest(
        n_races=n,
        mean_improvement=float(d.mean()),
        sd=sd,
        ci_low=float(np.quantile(means, alpha / 2)),
        ci_high=float(np.quantile(means, 1 - alpha / 2)),
        lower_bound=float(np.quantile(means, alpha)),
        prob_better=float((means > 0).mean()),
        dm_stat=dm,
        dm_p=float(norm.sf(dm)) if math.isfinite(dm) else float("nan"),
        confidence=confidence,
        n_boot=n_boot,
    )


def summarise(
    rows: pd.DataFrame, version: str, role: str, prob: str = "final_prob", with_betting: bool = True
) -> tuple[ModelSummary, dict]:
    """Accuracy, calibration and betting of one version on ``rows`` (its own rows only)."""
    p, won, races = rows[prob].to_numpy(dtype=float), rows["won"].to_numpy(dtype=float), rows["race_id"].to_numpy()
    scores = race_scores(p, won, races)
    table, ece = calibration(p, won)
    bets, curves = None, {}
    price, stake = rows["price"].to_numpy(dtype=float), rows["stake_fraction"].to_numpy(dtype=float)
    if with_betting and np.isfinite(price).any() and np.isfinite(stake).any():
        stake = np.nan_to_num(stake, nan=0.0)
        frame = pd.DataFrame({"race_id": races, "off_time": rows["timestamp"].to_numpy()})
        res = betting(frame, stake, price, won, stake > 0)
        curves = res.pop("_curves")
        bets = res
    return ModelSummary(version, role, scores, ece, table, bets), curves


def compare(
    frame: pd.DataFrame,
    model_name: str,
    champion: str,
    challenger: str,
    prob: str = "final_prob",
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
    with_betting: bool = True,
    coverage: Coverage | None = None,
) -> Comparison:
    """Both versions on the races both scored, and the paired test. The
    betting simulation walks races one by one; ``with_betting=False`` skips
    it when only the decision is wanted. With the log's ``coverage`` the
    result also says how many races were used and how many predicted races
    still lack an outcome, so a small sample is visible as such."""
    if champion == challenger:
        raise LabelledLogError(f"champion and challenger are the same version ({champion})")
    rows = paired(frame, champion, challenger, prob)
    if rows.empty:
        raise LabelledLogError(
            f"no race has labelled predictions of both {model_name} v{champion} and "
            f"v{challenger} (scored by both, with the result logged)"
        )
    summaries, curves, ll = [], {}, {}
    for version, role in ((champion, "champion"), (challenger, "challenger")):
        own = rows[rows["model_version"] == version]
        summary, curve = summarise(own, version, role, prob, with_betting)
        summaries.append(summary)
        curves[version] = curve
        ll[version] = per_race_logloss(own[prob].to_numpy(), own["won"].to_numpy(), own["race_id"].to_numpy())
    order = pd.unique(rows["race_id"])  # time order (the labelled frame is sorted by scoring time)
    d = (ll[champion].reindex(order) - ll[challenger].reindex(order)).dropna()
    test = paired_bootstrap(d.to_numpy(), confidence, n_boot, seed)
    counts = coverage.to_dict([champion, challenger], used=test.n_races) if coverage is not None else {}
    return Comparison(
        model_name, champion, challenger, prob, summaries, test, d.index.tolist(), d.to_numpy(), curves, counts
    )


def write(comparison: Comparison, out: Path, decision: dict[str, Any] | None = None) -> list[Path]:
    """comparison.json and comparison.png in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    doc = comparison.to_dict()
    if decision is not None:
        doc["decision"] = json_safe(decision)
    (out / "comparison.json").write_text(json.dumps(doc, indent=2))
    return [out / "comparison.json", plot(comparison, out / "comparison.png")]


def plot(c: Comparison, path: Path) -> Path:
    """Cumulative log-loss advantage with its null band, calibration of both,
    and the flat-stake P&L of both when the log has prices."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    has_pnl = any(c.curves.get(s.version) for s in c.summaries)
    fig, axes = plt.subplots(1, 3 if has_pnl else 2, figsize=(15 if has_pnl else 10, 4.2))
    t = c.test
    n = np.arange(1, len(c.improvement) + 1)
    z = norm.ppf(1 - (1 - t.confidence) / 2)
    ax = axes[0]
    ax.plot(n, np.cumsum(c.improvement), label="champion − challenger")
    if math.isfinite(t.sd):
        band = z * t.sd * np.sqrt(n)
        ax.fill_between(n, -band, band, color="grey", alpha=0.25, label=f"{t.confidence:.0%} band if equal")
    ax.axhline(0, color="black", lw=0.8)
    ax.set(
        xlabel="races (time order)",
        ylabel="cumulative log-loss difference (nats)",
        title=f"v{c.challenger} vs v{c.champion}: {t.mean_improvement:+.4f}/race\n"
        f"{t.confidence:.0%} CI [{t.ci_low:+.4f}, {t.ci_high:+.4f}]",
    )
    ax.legend(loc="upper left", fontsize=8)
    ax = axes[1]
    top = 0.0
    for s in c.summaries:
        if s.calibration:
            xs = [r["p_mean"] for r in s.calibration]
            ax.plot(xs, [r["win_rate"] for r in s.calibration], "o-", label=f"{s.role} v{s.version} (ECE {s.ece:.4f})")
            top = max(top, *xs)
    ax.plot([0, top], [0, top], "--", color="grey")
    ax.set(xlabel="predicted win probability", ylabel="observed win rate", title="Calibration, same races")
    ax.legend(fontsize=8)
    if has_pnl:
        ax = axes[2]
        for s in c.summaries:
            curve = c.curves.get(s.version, {}).get("flat")
            if curve:
                ax.plot(curve, label=f"{s.role} v{s.version}")
        ax.axhline(0, color="black", lw=0.8)
        ax.set(xlabel="runner (time order)", ylabel="units", title="Flat 1-unit stakes on recommendations")
        ax.legend(fontsize=8)
    return save_figure(fig, path)
