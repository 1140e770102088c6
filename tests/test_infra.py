"""The monitoring config in infra/ queries metrics the worker really exposes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from streams import metrics

ROOT = Path(__file__).resolve().parents[1]
INFRA = ROOT / "infra"


def _exposed() -> dict[str, set[str]]:
    """Series name -> label names, for everything on the worker's /metrics."""
    out: dict[str, set[str]] = {}
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"], "gauge": [""]}
    for collector in list(metrics.REGISTRY._collector_to_names):  # every registered metric, with or without samples
        desc = collector.describe()[0] if hasattr(collector, "describe") else None
        if desc is None:
            continue
        labels = set(getattr(collector, "_labelnames", ()))
        for s in suffixes.get(desc.type, [""]):
            out[desc.name + s] = labels | ({"le"} if s == "_bucket" else set())
    return out


def _exprs() -> list[str]:
    dash = json.loads((INFRA / "grafana" / "velo-dashboard.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    rules = yaml.safe_load((INFRA / "velo-alerts.yml").read_text())
    return exprs + [r["expr"] for g in rules["groups"] for r in g["rules"]]


def test_every_queried_metric_and_label_exists() -> None:
    exposed = _exposed()
    assert {"velo_feature_psi", "velo_drift_alert", "velo_live_logloss", "velo_messages_in_total"} <= set(exposed)
    exprs = _exprs()
    assert len(exprs) >= 15
    used = set()
    for e in exprs:
        names = set(re.findall(r"\bvelo_[a-z0-9_]+", e))
        assert names, e
        unknown = names - set(exposed)
        assert not unknown, f"{e}: not exposed by streams/metrics.py: {unknown}"
        used |= names
        labels = set().union(*(exposed[n] for n in names))
        for group in re.findall(r"by \(([^)]*)\)", e) + re.findall(r"\{([^}]*)\}", e):
            for label in re.findall(r"([a-z_]+)\s*(?:=|,|$)", group.strip()):
                assert label in labels | {"instance", "job"}, f"{e}: label {label!r} not on {names}"
    # every family of the worker is on the dashboard
    families = {n.removesuffix("_total").removesuffix("_bucket") for n in exposed if not n.endswith(("_sum", "_count"))}
    shown = {n.removesuffix("_total").removesuffix("_bucket") for n in used}
    assert families <= shown, families - shown


def test_dashboard_shape_and_scrape_config() -> None:
    dash = json.loads((INFRA / "grafana" / "velo-dashboard.json").read_text())
    titles = " ".join(p["title"].lower() for p in dash["panels"])
    for word in ("messages in", "latency", "dead letters", "psi", "drift alert", "log-loss", "model version"):
        assert word in titles, word
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    prom = yaml.safe_load((INFRA / "prometheus.yml").read_text())
    job = next(j for j in prom["scrape_configs"] if j["job_name"] == "velo-worker")
    assert job["metrics_path"] == "/metrics" and "127.0.0.1:6066" in job["static_configs"][0]["targets"]
    assert all((INFRA / f).exists() for f in prom["rule_files"])
