"""Drift of the model's inputs and of its live quality.

**Feature drift.** The reference is the distribution of every model input
(50 SQPE, 7 TIE features, the market probability and the 5 NDS signals) over
the most recent part of the training window: per feature, quantile bin edges
and the share of rows in each bin, with missing values (NaN) as a bin of
their own, because "the feature went missing" is drift too. Live rows are
counted into the same bins and compared by the population stability index,
PSI = Σ (live − ref) · ln(live / ref), which is 0 for identical shares; 0.1
is usually read as a moderate shift and 0.2 as one worth acting on.

Some inputs move even in a world that does not change (career counts grow,
365-day windows fill up, a cumulative mean over 30 trainers is lumpy). So the
reference also keeps each feature's "baseline": the largest PSI against the
reference window of the earlier blocks of training days of the same length
(two by default). A feature alerts when its live PSI exceeds both the
threshold and ``trend_factor`` times its baseline, i.e. when it moved clearly
more than it already did while the model was being trained. For a stable
feature the baseline is sampling noise and the plain threshold applies.

**Live quality.** From labelled outcomes, over rolling windows of races: the
model's per-race log-loss, the market's on the same races, and the expected
calibration error. Alerts: ECE above a ceiling; the model worse than the
market price with confidence (the one-sided 95% lower bound of model − market
log-loss above a margin); optionally an absolute log-loss ceiling.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from velo.features.definitions import SQPE_FEATURES, TIE_FEATURES
from velo.markets.view import MARKET_COLUMNS
from velo.metrics import calibration, per_race_logloss

#: Every input the model reads, in the order of the stream's arrays (sqpe | tie | market view).
MONITORED: list[str] = SQPE_FEATURES + TIE_FEATURES + MARKET_COLUMNS
REFERENCE_FILE = "reference.json"
_FLOOR = 1e-4  # share given to an empty bin, so that ln() stays finite
Z95 = 1.6448536269514722  # one-sided 95% normal quantile


@dataclass(frozen=True)
class Thresholds:
    psi: float = 0.2
    trend_factor: float = 2.0
    ece: float = 0.05
    #: alert when the model is worse than the market by more than this (nats/race), with 95% confidence
    vs_market: float = 0.0
    logloss: float | None = None
    #: races a performance window needs before it may alert
    min_races: int = 100


@dataclass(frozen=True)
class Alert:
    kind: str  # feature_drift | calibration | vs_market | logloss
    subject: str  # feature name or "role vN"
    value: float
    threshold: float
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _psi(expected: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """Row-wise PSI of share arrays (n_features x bins); empty bins get a floor."""
    e = np.maximum(expected, _FLOOR)
    a = np.maximum(actual, _FLOOR)
    return ((a - e) * np.log(a / e)).sum(axis=-1)


@dataclass
class FeatureReference:
    names: list[str]
    edges: list[list[float]]  # inner edges per feature
    shares: np.ndarray  # (n_features, bins + 1): regular bins, then the NaN bin last
    baseline_psi: np.ndarray  # (n_features,)
    n_rows: int
    window: dict[str, Any] = field(default_factory=dict)
    _padded: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def width(self) -> int:
        return self.shares.shape[1]

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        columns: list[str] | None = None,
        share: float = 0.3,
        bins: int = 10,
        baseline_blocks: int = 2,
    ) -> FeatureReference:
        """The reference of a training frame: its last ``share`` of race days;
        the baseline from up to ``baseline_blocks`` equal blocks before them."""
        columns = columns or MONITORED
        missing = [c for c in columns if c not in frame]
        if missing:
            raise ValueError(f"the frame lacks monitored columns: {', '.join(missing)}")
        if frame.empty:
            raise ValueError("cannot build a drift reference from an empty frame")
        days = pd.to_datetime(frame["off_time"], utc=True).dt.normalize()
        unique = np.sort(days.unique())
        k = max(1, round(len(unique) * share))
        ref_days = unique[-k:]
        ref = frame[days.isin(ref_days)]
        X = ref[columns].to_numpy(dtype=float)
        edges = []
        for j in range(len(columns)):
            x = X[:, j][np.isfinite(X[:, j])]
            inner = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)[1:-1])) if len(x) else np.array([])
            edges.append(inner.tolist())
        out = cls(
            list(columns),
            edges,
            np.zeros((len(columns), bins + 1)),
            np.zeros(len(columns)),
            len(ref),
            {
                "from": str(ref["off_time"].min()),
                "to": str(ref["off_time"].max()),
                "days": int(k),
                "races": int(ref["race_id"].nunique()) if "race_id" in ref else None,
            },
        )
        out.shares = out.counts(X) / max(len(X), 1)
        for b in range(1, baseline_blocks + 1):
            block = unique[max(0, len(unique) - (b + 1) * k) : len(unique) - b * k]
            before = frame[days.isin(block)] if len(block) else frame.iloc[:0]
            if len(before):
                psi = out.psi(before[columns].to_numpy(dtype=float))
                out.baseline_psi = np.maximum(out.baseline_psi, psi)
                out.window["baseline_from"] = str(before["off_time"].min())
        return out

    def counts(self, X: np.ndarray) -> np.ndarray:
        """(n_features, bins + 1) row counts of a matrix whose columns are ``names``."""
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != len(self.names):
            raise ValueError(f"expected a (rows x {len(self.names)}) matrix, got shape {X.shape}")
        w = self.width
        if self._padded is None:
            # edges padded with +inf to one width: a bin index is the count of edges <= x, for all columns at once
            pad = np.full((len(self.names), max(w - 2, max((len(e) for e in self.edges), default=0))), np.inf)
            for j, e in enumerate(self.edges):
                pad[j, : len(e)] = e
            self._padded = pad
        with np.errstate(invalid="ignore"):
            idx = (X[:, :, None] >= self._padded[None, :, :]).sum(axis=2)
        idx = np.where(np.isfinite(X), idx, w - 1)
        flat = (idx + np.arange(len(self.names)) * w).ravel()
        return np.bincount(flat, minlength=len(self.names) * w).reshape(len(self.names), w).astype(float)

    def psi_from_counts(self, counts: np.ndarray) -> np.ndarray:
        total = counts.sum(axis=1, keepdims=True)
        return _psi(self.shares, counts / np.maximum(total, 1.0))

    def psi(self, X: np.ndarray) -> np.ndarray:
        return self.psi_from_counts(self.counts(X))

    def alerts(self, psi: np.ndarray, thresholds: Thresholds) -> list[Alert]:
        """One alert per feature that moved past the threshold and clearly beyond its training trend."""
        out = []
        for name, value, base in zip(self.names, psi, self.baseline_psi, strict=True):
            limit = max(thresholds.psi, thresholds.trend_factor * base)
            if value > limit:
                why = (
                    f"threshold {thresholds.psi:.2f}"
                    if limit == thresholds.psi
                    else f"{thresholds.trend_factor:g} x its drift within training ({base:.3f})"
                )
                out.append(
                    Alert(
                        "feature_drift",
                        name,
                        float(value),
                        float(limit),
                        f"feature drift: PSI of {name} is {value:.3f} > {limit:.3f} ({why})",
                    )
                )
        return out

    # -- files -----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "names": self.names,
            "edges": self.edges,
            "shares": self.shares.round(8).tolist(),
            "baseline_psi": self.baseline_psi.round(8).tolist(),
            "n_rows": self.n_rows,
            "window": self.window,
        }

    def save(self, path: Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=1))
        return path

    @classmethod
    def load(cls, path: Path) -> FeatureReference:
        d = json.loads(Path(path).read_text())
        return cls(
            d["names"],
            d["edges"],
            np.asarray(d["shares"], dtype=float),
            np.asarray(d["baseline_psi"], dtype=float),
            d["n_rows"],
            d.get("window", {}),
        )


# -- live quality ----------------------------------------------------------
def race_table(rows: pd.DataFrame, prob: str = "final_prob") -> pd.DataFrame:
    """Per race of one model version (rows of the labelled frame): the model's
    and the market's log-loss, in the order of the rows (scoring time)."""
    races = rows["race_id"].to_numpy()
    won = rows["won"].to_numpy(dtype=float)
    model = per_race_logloss(rows[prob].to_numpy(dtype=float), won, races)
    market = per_race_logloss(rows["market_prob"].to_numpy(dtype=float), won, races)
    return pd.DataFrame({"logloss": model, "market_logloss": market.reindex(model.index)})


@dataclass
class QualityWindow:
    role: str
    version: str
    races: int
    logloss: float
    market_logloss: float  # NaN when the market probability is missing in some race
    vs_market: float  # mean model - market log-loss per race
    vs_market_lower: float  # its one-sided 95% lower bound
    ece: float
    first: str = ""
    last: str = ""


def summarise_window(
    role: str,
    version: str,
    ll: np.ndarray,
    market_ll: np.ndarray,
    prob: np.ndarray,
    won: np.ndarray,
    first: str = "",
    last: str = "",
) -> QualityWindow:
    """A window's figures from per-race log-losses (model, market) and its runners' probabilities and labels."""
    ll, market_ll = np.asarray(ll, dtype=float), np.asarray(market_ll, dtype=float)
    has_market = bool(np.isfinite(market_ll).all())
    d = ll - market_ll
    mean = float(d.mean()) if has_market else float("nan")
    lower = mean - Z95 * float(d.std(ddof=1)) / math.sqrt(len(d)) if has_market and len(d) > 1 else float("nan")
    _, ece = calibration(np.asarray(prob, dtype=float), np.asarray(won, dtype=float))
    market = float(market_ll.mean()) if has_market else float("nan")
    return QualityWindow(role, version, len(ll), float(ll.mean()), market, mean, lower, ece, first, last)


def quality_window(
    rows: pd.DataFrame, role: str, version: str, window: int, prob: str = "final_prob"
) -> QualityWindow | None:
    """The last ``window`` labelled races of one version (None if it has none)."""
    table = race_table(rows, prob)
    if table.empty:
        return None
    t = table.iloc[-window:]
    sub = rows[rows["race_id"].isin(set(t.index))]
    return summarise_window(
        role,
        version,
        t["logloss"].to_numpy(),
        t["market_logloss"].to_numpy(),
        sub[prob].to_numpy(dtype=float),
        sub["won"].to_numpy(dtype=float),
        str(sub["timestamp"].min()),
        str(sub["timestamp"].max()),
    )


def quality_alerts(w: QualityWindow, thresholds: Thresholds) -> list[Alert]:
    if w.races < thresholds.min_races:
        return []
    who = f"{w.role} v{w.version}"
    out = []
    if math.isfinite(w.ece) and w.ece > thresholds.ece:
        out.append(
            Alert(
                "calibration",
                who,
                w.ece,
                thresholds.ece,
                f"calibration drift: ECE of {who} over its last {w.races} races is {w.ece:.4f} > {thresholds.ece:.4f}",
            )
        )
    if math.isfinite(w.vs_market_lower) and w.vs_market_lower > thresholds.vs_market:
        out.append(
            Alert(
                "vs_market",
                who,
                w.vs_market,
                thresholds.vs_market,
                f"live log-loss: {who} is worse than the market price over its last {w.races} races "
                f"({w.logloss:.4f} vs {w.market_logloss:.4f} nats/race; 95% lower bound of the gap "
                f"{w.vs_market_lower:+.4f} > {thresholds.vs_market:+.4f})",
            )
        )
    if thresholds.logloss is not None and w.logloss > thresholds.logloss:
        out.append(
            Alert(
                "logloss",
                who,
                w.logloss,
                thresholds.logloss,
                f"live log-loss: {who} is at {w.logloss:.4f} nats/race over its last {w.races} races "
                f"> {thresholds.logloss:.4f}",
            )
        )
    return out
