"""One settings object, read from ``VELO_*`` environment variables.

Defaults point at the embedded stack (``velo up`` on its default ports), so a
new user needs no configuration; production sets the variables (see
``docker-compose.yml``).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from velo.markets.repredict import RepredictPolicy

DEFAULT_BROKER_PORT = 9092
DEFAULT_REDIS_PORT = 6379


def redacted(url: str) -> str:
    """``url`` with any password replaced by ``***``: what logs and error
    lines may show of ``VELO_REDIS_URL`` (``redis://:PASSWORD@host:port/0``)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VELO_", frozen=True, extra="ignore")

    bootstrap_servers: str = f"127.0.0.1:{DEFAULT_BROKER_PORT}"
    redis_url: str = f"redis://127.0.0.1:{DEFAULT_REDIS_PORT}/0"
    registry_dir: Path = Path("models")
    log_dir: Path = Path("logs")

    topic_race_cards: str = "race-cards"
    topic_market_updates: str = "market-updates"
    topic_race_results: str = "race-results"
    topic_predictions: str = "predictions"
    topic_prediction_log: str = "prediction-log"
    topic_registry_events: str = "registry-events"
    topic_dead_letter: str = "dead-letter"

    #: Cards, market updates and results are keyed by race_id and must share
    #: one partition count so a race's events meet on one worker.
    partitions: int = Field(default=4, ge=1, le=1024)
    #: Output and log topics may differ; registry events stay totally ordered.
    partitions_output: int = Field(default=4, ge=1, le=1024)
    partitions_registry_events: int = Field(default=1, ge=1, le=1)
    replication_factor: int = Field(default=1, ge=1)

    #: Consumer fetch wait. Low by default because the embedded broker does not
    #: answer a waiting fetch early when data arrives.
    consumer_fetch_max_wait_ms: int = Field(default=5, ge=0, le=10_000)
    #: How long the group waits for a silent worker before moving its
    #: partitions to the others (a killed worker's cards wait this long).
    consumer_session_timeout_s: float = Field(default=10.0, ge=2.0, le=300.0)
    #: At most this many fetched cards are scored together (features and
    #: model in one pass). A batch is whatever one fetch brought, so a lone
    #: card is scored at once and a backlog forms batches by itself.
    card_batch_max: int = Field(default=64, ge=1, le=10_000)
    #: The same for market updates and results, which nobody waits on: larger
    #: batches fold more updates per race and share the store's round trips.
    state_batch_max: int = Field(default=1000, ge=1, le=10_000)
    #: Market states a batch of updates leaves (with no prediction to make)
    #: wait in memory this long at most, then go to Redis together; the
    #: batch is acknowledged after that write. 0: each batch writes its own.
    state_flush_ms: float = Field(default=0.0, ge=0.0, le=1000.0)
    #: How long ``velo worker`` waits at start-up for the broker to answer
    #: (a broker started a moment before may refuse connections for a few
    #: seconds); after that it ends with one line naming the address.
    broker_wait_s: float = Field(default=20.0, gt=0.0, le=600.0)
    #: How often a worker commits the offsets it has processed. ``velo replay``
    #: reads them to know a day is done, so this bounds its pace.
    commit_interval_ms: int = Field(default=20, ge=10, le=60_000)
    #: A partition whose commits have not moved for this long while messages
    #: wait makes ``/health`` fail (a stuck agent, or an outage outlasting it).
    commit_stall_after_s: float = Field(default=60.0, ge=5.0, le=3600.0)
    #: Also send every prediction-log row to the prediction-log topic (one
    #: message a runner and model: 28 for a 14-runner card with a challenger).
    #: The JSONL sink is always written.
    mirror_prediction_log: bool = False
    #: Re-prediction as a race's market moves (see velo.markets.repredict):
    #: on or off (off: one prediction per card, final and staked), the move
    #: that counts (any runner's market probability or the book, absolute),
    #: at most one market-moved prediction per race per debounce (event
    #: seconds), and the checkpoints in seconds before the off (the smallest
    #: is the decision time: its prediction is final and staked). The clock
    #: that fires checkpoints: ``event`` (the race's own market updates; a
    #: replay) or ``wall`` (also a one-second tick on this machine's clock,
    #: for live markets that go quiet).
    repredict: bool = True
    repredict_threshold: float = Field(default=0.02, gt=0.0, le=1.0)
    repredict_debounce_s: float = Field(default=5.0, ge=0.0, le=3600.0)
    repredict_checkpoints_s: str = Field(default="600,120,60", pattern=r"^\s*[0-9.]+(\s*,\s*[0-9.]+)*\s*$")
    repredict_clock: Literal["event", "wall"] = "event"
    #: With the wall clock: a market moment (updates sharing a publish time)
    #: is judged for a move when a later update closes it, or once it is this
    #: old by this machine's clock, whichever is first; checked this often.
    repredict_settle_ms: float = Field(default=30.0, ge=1.0, le=10_000.0)
    #: Address the worker's HTTP server (health, predict, metrics) binds to;
    #: 0.0.0.0 in a container, so the published port and Prometheus reach it.
    web_host: str = "127.0.0.1"
    #: If set, /health, /ready and /metrics move to this port (for the
    #: cluster's probes and Prometheus), and the web port keeps /predict and
    #: /models/* (behind the API keys).
    ops_port: int | None = Field(default=None, ge=1, le=65535)

    # -- HTTP access (see velo.serving.access) ----------------------------
    #: Comma-separated API keys, or ``sha256:<hex>`` digests of them, for
    #: /predict and /models/*; empty: open (the default loopback bind).
    api_keys: SecretStr = SecretStr("")
    #: Each key's steady request rate (per second) and burst; over it, 429.
    rate_limit_per_s: float = Field(default=50.0, gt=0.0, le=1_000_000.0)
    rate_limit_burst: int = Field(default=100, ge=1, le=1_000_000)
    #: How often the worker probes Redis and the broker for its circuit breaker.
    breaker_probe_s: float = Field(default=0.5, gt=0.0, le=60.0)

    # -- Kafka security (see streams.security) -----------------------------
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    #: PEM files: the CA that signed the brokers' certificates, and this
    #: client's own certificate and key where the cluster wants mutual TLS.
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None

    @cached_property
    def repredict_policy(self) -> RepredictPolicy:
        return RepredictPolicy(
            threshold=self.repredict_threshold,
            debounce_s=self.repredict_debounce_s,
            checkpoints_s=tuple(float(x) for x in self.repredict_checkpoints_s.split(",")),
            enabled=self.repredict,
        )

    @cached_property
    def topics(self) -> dict[str, int]:
        """Topic name -> partition count, for creating them."""
        return {
            self.topic_race_cards: self.partitions,
            self.topic_market_updates: self.partitions,
            self.topic_race_results: self.partitions,
            self.topic_predictions: self.partitions_output,
            self.topic_prediction_log: self.partitions_output,
            self.topic_registry_events: self.partitions_registry_events,
            self.topic_dead_letter: self.partitions_output,
        }

    def env(self) -> dict[str, str]:
        """The settings as ``VELO_*`` variables, to hand to another process."""
        out = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is None:
                continue
            out[f"VELO_{name.upper()}"] = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        return out
