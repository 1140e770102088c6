"""The worker's drift monitor: feeds velo.monitoring.live from the stream and
exports its snapshot to /metrics, logging an ALERT line when a threshold is
first breached (and a line when it clears).

It must never cost a prediction: every call is guarded, the input counts are
one vectorised pass per batch, and the snapshot is exported at most every
``export_every_s`` seconds.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from schemas import RaceResult
from streams import metrics
from velo.monitoring.drift import REFERENCE_FILE, FeatureReference, Thresholds
from velo.monitoring.live import LiveMonitor
from velo.registry import Registry

log = logging.getLogger("velo.monitor")


class WorkerMonitor:
    def __init__(
        self, registry: Registry, model_name: str, thresholds: Thresholds | None = None, export_every_s: float = 5.0
    ) -> None:
        self.registry = registry
        self.model_name = model_name
        self.live = LiveMonitor(thresholds)
        self.export_every_s = export_every_s
        self._reference_for: str | None = None
        self._last_export = 0.0
        self._active: set[tuple[str, str]] = set()

    def _ensure_reference(self, champion: Any) -> None:
        version = champion.record.version
        if version == self._reference_for:
            return
        self._reference_for = version
        path = self.registry.root / self.model_name / version / REFERENCE_FILE
        ref = None
        if path.exists():
            ref = FeatureReference.load(path)
        else:
            log.warning(
                "no %s for %s v%s: feature drift is not monitored (train with `velo train` to write it)",
                REFERENCE_FILE,
                self.model_name,
                version,
            )
        self.live.set_reference(ref, f"{self.model_name} v{version}" if ref else None)

    def observe_scored(self, champion: Any, inputs: Any, mains: list[Any], shadows: list[Any] | None) -> None:
        """One scored batch: the input rows and both roles' probabilities."""
        try:
            self._ensure_reference(champion)
            if self.live.reference is not None:
                self.live.observe_inputs(np.hstack([inputs.sqpe, inputs.tie, inputs.market]))
            for role, preds in (("champion", mains), ("challenger", shadows or [])):
                for p in preds:
                    c = p.columns
                    self.live.observe_scored(
                        role, p.model_version, p.race_id, p.runner_ids, c["final_prob"], c["market_prob"]
                    )
            self._export_if_due()
        except Exception:
            log.exception("drift monitor failed on a batch; scoring is unaffected")

    def observe_result(self, result: RaceResult) -> None:
        try:
            self.live.observe_result(result.race_id, {f.runner_id for f in result.finishers if f.position == 1})
            self._export_if_due()  # a snapshot per result was a tenth of a replay's time
        except Exception:
            log.exception("drift monitor failed on a result")

    def _export_if_due(self) -> None:
        if time.monotonic() - self._last_export >= self.export_every_s:
            self.export()

    def export(self) -> None:
        self._last_export = time.monotonic()
        snap = self.live.snapshot()
        metrics.DRIFT.export(snap.psi, snap.quality, snap.alerts, snap.rows)
        now = {(a.kind, a.subject): a for a in snap.alerts}
        for key in now.keys() - self._active:
            log.warning("ALERT %s", now[key].message)
        for kind, subject in self._active - now.keys():
            log.info("alert cleared: %s %s", kind, subject)
        self._active = set(now)
