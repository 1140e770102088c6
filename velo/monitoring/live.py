"""Rolling drift and quality state for a long-running worker.

A worker sees every card it scores (the model's input rows) and, later, the
race's result. This keeps bin counts of the last ``feature_window`` input
rows against the champion's reference, and the last ``race_window`` labelled
races per role (champion, challenger), and turns them into PSI, live
log-loss, the market's log-loss on the same races, ECE and alerts. Cards and
results of a race share a partition, so the worker that scored a card is the
one that sees its result; after a rebalance a few races go unlabelled here,
which only shortens a window. No I/O and no Kafka: the stream code exports
the snapshot.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from velo.metrics import race_logloss
from velo.monitoring.drift import Alert, FeatureReference, QualityWindow, Thresholds, quality_alerts, summarise_window


@dataclass
class _Scored:
    version: str
    runners: list[str]
    prob: np.ndarray
    market: np.ndarray


@dataclass
class _Race:
    ll: float
    market_ll: float
    prob: np.ndarray
    won: np.ndarray


@dataclass
class Snapshot:
    reference: str | None
    rows: int
    psi: dict[str, float]
    quality: dict[str, QualityWindow]
    alerts: list[Alert] = field(default_factory=list)


class LiveMonitor:
    def __init__(
        self,
        thresholds: Thresholds | None = None,
        feature_window: int = 5000,
        race_window: int = 200,
        max_pending: int = 20_000,
    ) -> None:
        self.thresholds = thresholds or Thresholds()
        self.feature_window = feature_window
        self.race_window = race_window
        self.max_pending = max_pending
        self.reference: FeatureReference | None = None
        self.reference_label: str | None = None
        self._chunks: deque[tuple[int, np.ndarray]] = deque()
        self._sum: np.ndarray | None = None
        self._rows = 0
        self._pending: OrderedDict[str, dict[str, _Scored]] = OrderedDict()
        self._races: dict[str, deque[_Race]] = {}
        self._version: dict[str, str] = {}

    # -- inputs ------------------------------------------------------------
    def set_reference(self, reference: FeatureReference | None, label: str | None) -> None:
        """A new champion brings its own reference; earlier counts are dropped."""
        self.reference, self.reference_label = reference, label
        self._chunks.clear()
        self._sum = None if reference is None else np.zeros_like(reference.shares)
        self._rows = 0

    def observe_inputs(self, X: np.ndarray) -> None:
        """Input rows (columns in the reference's order) of scored cards."""
        if self.reference is None or len(X) == 0:
            return
        c = self.reference.counts(X)
        self._chunks.append((len(X), c))
        self._sum += c
        self._rows += len(X)
        while self._chunks and self._rows - self._chunks[0][0] >= self.feature_window:
            n, old = self._chunks.popleft()
            self._sum -= old
            self._rows -= n

    def psi(self) -> np.ndarray | None:
        if self.reference is None or self._rows == 0:
            return None
        assert self._sum is not None  # set with the reference (set_reference)
        return self.reference.psi_from_counts(self._sum)

    # -- quality -----------------------------------------------------------
    def observe_scored(
        self,
        role: str,
        version: str,
        race_id: str,
        runners: Sequence[str],
        prob: Sequence[float],
        market: Sequence[float | None],
    ) -> None:
        entry = self._pending.setdefault(race_id, {})
        entry[role] = _Scored(
            version,
            list(runners),
            np.asarray(prob, dtype=float),
            np.asarray([np.nan if m is None else m for m in market], dtype=float),
        )
        self._pending.move_to_end(race_id)
        while len(self._pending) > self.max_pending:
            self._pending.popitem(last=False)

    def observe_result(self, race_id: str, winners: set[str]) -> None:
        scored = self._pending.pop(race_id, None)
        if not scored:
            return
        for role, s in scored.items():
            won = np.asarray([1.0 if r in winners else 0.0 for r in s.runners])
            ll = race_logloss(s.prob, won)
            if not math.isfinite(ll):
                continue
            if self._version.get(role) != s.version:  # a new model in this role starts a new window
                self._version[role] = s.version
                self._races[role] = deque(maxlen=self.race_window)
            self._races[role].append(_Race(ll, race_logloss(s.market, won), s.prob / s.prob.sum(), won))

    def quality(self, role: str) -> QualityWindow | None:
        races = self._races.get(role)
        if not races:
            return None
        return summarise_window(
            role,
            self._version[role],
            np.array([r.ll for r in races]),
            np.array([r.market_ll for r in races]),
            np.concatenate([r.prob for r in races]),
            np.concatenate([r.won for r in races]),
        )

    # -- all of it -----------------------------------------------------------
    def snapshot(self) -> Snapshot:
        psi = self.psi()
        alerts: list[Alert] = []
        named: dict[str, float] = {}
        if psi is not None and self.reference is not None:
            named = dict(zip(self.reference.names, psi.tolist(), strict=True))
            # PSI on a handful of rows is noise; wait for a tenth of the window
            if self._rows >= min(self.feature_window, 500):
                alerts += self.reference.alerts(psi, self.thresholds)
        quality = {}
        for role in sorted(self._races):
            q = self.quality(role)
            if q is not None:
                quality[role] = q
                alerts += quality_alerts(q, self.thresholds)
        return Snapshot(self.reference_label, self._rows, named, quality, alerts)
