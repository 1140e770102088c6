"""The worker's HTTP API as a real process: API keys, rate limits, the ops
port and the circuit breaker, on a stack of its own (the last test kills
its broker and Redis)."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from schemas.examples import race_card
from streams.embedded import start_embedded_stack
from tests.streams.test_worker import RunningWorker, start_worker, stop_worker, worker_settings
from velo.config import Settings
from velo.serving.access import digest
from velo.stack import EmbeddedStack
from velo.stack.ports import free_port

KEY_1, KEY_2, KEY_3 = "key-one-7f3a", "key-two-91bc", "key-three-c0d2"
SASL_PASSWORD = "sasl-pw-5e1d"
RATE, BURST = 5.0, 8


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: object
    seconds: float


def call(port: int, path: str, body: bytes | None = None, key: str | None = None) -> Answer:
    headers = {"X-API-Key": key} if key else {}
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=body, headers=headers, method="POST" if body else "GET"
    )
    t = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, got, raw = r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        status, got, raw = e.code, dict(e.headers), e.read()
    seconds = time.perf_counter() - t
    try:
        parsed: object = orjson.loads(raw)
    except orjson.JSONDecodeError:
        parsed = raw
    return Answer(status, got, parsed, seconds)


@dataclass
class Secured:
    stack: EmbeddedStack
    worker: RunningWorker
    ops_port: int
    tmp: Path


@pytest.fixture(scope="module")
def secured(model_dirs, tmp_path_factory) -> Iterator[Secured]:
    tmp = tmp_path_factory.mktemp("web")
    stack = start_embedded_stack(Settings(), 0, 0)
    try:
        settings, reg = worker_settings(stack, tmp, model_dirs)
        ops_port = free_port()
        settings = settings.model_copy(
            update={
                "api_keys": f"{KEY_1}, sha256:{digest(KEY_2)},{KEY_3}",
                "rate_limit_per_s": RATE,
                "rate_limit_burst": BURST,
                "ops_port": ops_port,
                "breaker_probe_s": 0.2,
                "kafka_sasl_password": SASL_PASSWORD,  # unused (PLAINTEXT), but must never show
            }
        )
        running = start_worker(settings, reg, tmp)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if (
                        call(ops_port, "/ready").status == 200
                        and call(running.port, "/predict", CARD, KEY_1).status == 200
                    ):
                        break
                except (urllib.error.URLError, ConnectionError):
                    pass
                assert running.proc.poll() is None, f"worker exited with {running.proc.returncode}"
                time.sleep(0.5)
            else:
                pytest.fail("worker not ready in 120 s")
            yield Secured(stack, running, ops_port, tmp)
        finally:
            stop_worker(running)
    finally:
        stack.stop()


CARD = race_card().encode()


def test_predict_and_models_need_a_key(secured: Secured) -> None:
    port = secured.worker.port
    assert call(port, "/predict", CARD).status == 401
    wrong = call(port, "/predict", CARD, "key-one-7f3b")
    assert wrong.status == 401 and "API key" in wrong.body["error"] and "WWW-Authenticate" in wrong.headers
    ok = call(port, "/predict", CARD, KEY_1)
    assert ok.status == 200 and ok.body["race_id"] == race_card().race_id
    assert call(port, "/predict", CARD, KEY_2).status == 200  # given as its sha256 digest
    assert call(port, "/models/champion").status == 401
    assert call(port, "/models/champion", key=KEY_1).body["version"] == "1"


def test_health_ready_and_metrics_are_open_on_the_ops_port_only(secured: Secured) -> None:
    for path in ("/health", "/ready", "/metrics"):
        assert call(secured.ops_port, path).status == 200, path
        assert call(secured.worker.port, path).status == 404, path
    metrics = call(secured.ops_port, "/metrics").body
    assert b'velo_http_refused_total{status="401"}' in metrics
    assert KEY_1.encode() not in metrics and digest(KEY_1).encode() not in metrics


def test_a_burst_over_the_limit_gets_429s_and_no_5xx(secured: Secured) -> None:
    answers = [call(secured.worker.port, "/predict", CARD, KEY_3) for _ in range(BURST + 12)]
    statuses = [a.status for a in answers]
    assert not [s for s in statuses if s >= 500], statuses
    assert set(statuses) == {200, 429}, statuses
    assert BURST <= statuses.count(200) <= BURST + int(RATE * sum(a.seconds for a in answers)) + 1, statuses
    limited = next(a for a in answers if a.status == 429)
    assert int(limited.headers["Retry-After"]) >= 1 and "rate limit" in limited.body["error"]
    assert call(secured.worker.port, "/predict", CARD, KEY_1).status == 200  # other keys are not limited


def test_no_secret_reaches_the_log_or_the_metrics(secured: Secured) -> None:
    seen = (secured.tmp / "worker.log").read_text() + call(secured.ops_port, "/metrics").body.decode()
    for secret in (KEY_1, KEY_2, KEY_3, SASL_PASSWORD):
        assert secret not in seen


def _breaker_open(secured: Secured, word: str, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = call(secured.ops_port, "/ready")
        if ready.status == 503 and any(word in r for r in ready.body["reasons"]):
            return ready.body
        time.sleep(0.1)
    pytest.fail(f"/ready never reported {word} down")


def test_with_the_broker_down_predict_answers_503_at_once(secured: Secured) -> None:
    secured.stack.broker.kill()
    _breaker_open(secured, "broker")
    time.sleep(0.5)  # a probe or two after the first report
    answers = [call(secured.worker.port, "/predict", CARD, KEY_1) for _ in range(5)]
    assert [a.status for a in answers] == [503] * 5
    assert any("broker" in r for r in answers[0].body["reasons"]) and answers[0].headers["Retry-After"] == "1"
    slowest = max(a.seconds for a in answers)
    assert slowest < 0.1, f"slowest 503 took {slowest * 1000:.1f} ms"
    print(f"503 with the broker down: slowest {slowest * 1000:.1f} ms")
    secured.stack.redis.kill()
    _breaker_open(secured, "redis")
    answers = [call(secured.worker.port, "/predict", CARD, KEY_2) for _ in range(5)]  # KEY_1 spent its burst
    assert [a.status for a in answers] == [503] * 5 and max(a.seconds for a in answers) < 0.1
    print(f"503 with the broker and Redis down: slowest {max(a.seconds for a in answers) * 1000:.1f} ms")
