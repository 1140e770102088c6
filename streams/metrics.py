"""Prometheus metrics of a worker (served at GET /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from velo.monitoring.prom import drift_gauges

REGISTRY = CollectorRegistry()

MESSAGES_IN = Counter("velo_messages_in_total", "messages consumed", ["topic"], registry=REGISTRY)
MESSAGES_OUT = Counter("velo_messages_out_total", "messages produced", ["topic"], registry=REGISTRY)
DEAD_LETTERS = Counter("velo_dead_letters_total", "messages sent to the dead-letter topic", ["topic"],
                       registry=REGISTRY)  # fmt: skip
LATENCY = Histogram(
    "velo_card_latency_seconds", "card received to prediction sent", ["stage"], registry=REGISTRY,
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)  # fmt: skip
MODEL_VERSION = Gauge("velo_model_version", "loaded model version (0 = none)", ["role"], registry=REGISTRY)
RETRIES = Counter("velo_retries_total", "attempts that waited out an outage, by what was waited for", ["what"],
                  registry=REGISTRY)  # fmt: skip
SWAPS = Counter("velo_model_swaps_total", "hot model swaps", registry=REGISTRY)

# drift and live model quality (names shared with `velo monitor --metrics-out`)
DRIFT = drift_gauges(REGISTRY)

# the HTTP API's gate (streams.web): refusals by status, and the circuit breaker
HTTP_REFUSED = Counter("velo_http_refused_total", "HTTP requests refused (401, 429)", ["status"], registry=REGISTRY)
BREAKER_OPEN = Gauge("velo_breaker_open", "1 while /predict answers 503 (Redis or the broker down)", registry=REGISTRY)
