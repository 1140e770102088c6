"""Prometheus gauges for drift and live quality, defined once.

The worker registers them on its /metrics registry (``streams.metrics``);
``velo monitor --metrics-out`` writes the same names to a text file for the
node-exporter textfile collector, so one dashboard reads both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Gauge

from velo.monitoring.drift import Alert, QualityWindow

ALERT_KINDS = ("feature_drift", "calibration", "vs_market", "logloss")


@dataclass
class DriftGauges:
    psi: Gauge
    alert: Gauge
    alerts: Gauge
    logloss: Gauge
    ece: Gauge
    races: Gauge
    rows: Gauge

    def export(self, psi: dict[str, float], quality: dict[str, QualityWindow], alerts: list[Alert], rows: int) -> None:
        for name, value in psi.items():
            self.psi.labels(name).set(value)
        self.rows.set(rows)
        for role, q in quality.items():
            self.logloss.labels(role).set(q.logloss)
            self.ece.labels(role).set(q.ece)
            self.races.labels(role).set(q.races)
            if role == "champion" and math.isfinite(q.market_logloss):
                self.logloss.labels("market").set(q.market_logloss)
        for kind in ALERT_KINDS:
            self.alerts.labels(kind).set(sum(a.kind == kind for a in alerts))
        self.alert.set(1 if alerts else 0)


def drift_gauges(registry: CollectorRegistry) -> DriftGauges:
    return DriftGauges(
        psi=Gauge(
            "velo_feature_psi",
            "PSI of a model input over the recent window against the champion's training reference",
            ["feature"],
            registry=registry,
        ),
        alert=Gauge("velo_drift_alert", "1 while any drift or quality threshold is breached", registry=registry),
        alerts=Gauge("velo_drift_alerts", "breached thresholds by kind", ["kind"], registry=registry),
        logloss=Gauge(
            "velo_live_logloss",
            "mean per-race log-loss over the recent labelled races "
            "(role market: the market price on the champion's races)",
            ["role"],
            registry=registry,
        ),
        ece=Gauge(
            "velo_live_ece", "expected calibration error over the recent labelled races", ["role"], registry=registry
        ),
        races=Gauge("velo_live_races", "labelled races in the quality window", ["role"], registry=registry),
        rows=Gauge("velo_drift_window_rows", "runner rows in the feature-drift window", registry=registry),
    )
