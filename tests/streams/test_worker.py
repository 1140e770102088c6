"""The streaming worker as a real process on the embedded stack.

One worker serves the whole module (it takes ~30-40 s to start and load its
models); each test sends its own races and reads what comes back.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas import DeadLetter, MarketUpdate, Prediction
from schemas.examples import market_update, race_card
from streams.registry_events import publish_outbox
from streams.topic_reader import read_topic
from velo.config import Settings
from velo.logs.prediction_log import read_log
from velo.registry import Registry
from velo.stack import EmbeddedStack
from velo.stack.ports import free_port


@dataclass
class RunningWorker:
    settings: Settings
    port: int
    registry: Registry
    log_dir: Path
    proc: subprocess.Popen

    def http(self, path: str, body: bytes | None = None) -> tuple[int, dict]:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=body, method="POST" if body else "GET")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                raw = r.read()
                return r.status, json.loads(raw) if r.headers.get_content_type() == "application/json" else raw
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())


def worker_settings(stack: EmbeddedStack, tmp: Path, model_dirs) -> tuple[Settings, Registry]:
    """Fresh topics, a registry with champion v1 and challenger v2."""
    suffix = uuid.uuid4().hex[:6]
    topics = {f"topic_{k}": f"{k.replace('_', '-')}-{suffix}" for k in (
        "race_cards", "market_updates", "race_results", "predictions", "prediction_log", "registry_events",
        "dead_letter")}  # fmt: skip
    settings = stack.settings(**topics, registry_dir=tmp / "reg", log_dir=tmp / "logs")
    reg = Registry(settings.registry_dir)
    for d in model_dirs:
        reg.register(d, "velo")
    reg.promote("velo", "1")
    reg.set_challenger("velo", "2")
    return settings, reg


def start_worker(settings: Settings, reg: Registry, tmp: Path, name: str = "worker") -> RunningWorker:
    port = free_port()
    env = {**os.environ, **settings.env()}
    log = open(tmp / f"{name}.log", "w")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen([sys.executable, "-m", "velo.cli.main", "worker", "--web-port", str(port),
                             "--loglevel", "info"], env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    return RunningWorker(settings, port, reg, Path(settings.log_dir), proc)


def wait_healthy(w: RunningWorker, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if w.http("/health")[0] == 200:
                return
        except (urllib.error.URLError, ConnectionError):
            pass
        assert w.proc.poll() is None, f"worker exited with {w.proc.returncode}"
        time.sleep(1)
    pytest.fail(f"worker on port {w.port} not healthy in {timeout} s")


def stop_worker(w: RunningWorker) -> None:
    w.proc.terminate()
    try:
        w.proc.wait(30)
    except subprocess.TimeoutExpired:
        w.proc.kill()
        w.proc.wait()


@contextmanager
def healthy_worker(settings: Settings, reg: Registry, tmp: Path) -> Iterator[RunningWorker]:
    """A started worker, healthy, stopped on exit."""
    running = start_worker(settings, reg, tmp)
    try:
        wait_healthy(running)
        yield running
    finally:
        stop_worker(running)


@pytest.fixture(scope="module")
def worker(stack: EmbeddedStack, model_dirs, tmp_path_factory) -> Iterator[RunningWorker]:
    tmp = tmp_path_factory.mktemp("worker")
    with healthy_worker(*worker_settings(stack, tmp, model_dirs), tmp) as running:
        yield running


def _card(race_id: str, minutes: int = 0):
    card = race_card()
    race = card.race.model_copy(update={"race_id": race_id})
    return card.model_copy(update={"race": race})


async def _exchange(s: Settings, sends: list[tuple[str, str, bytes]], want: dict[str, int], timeout: float = 60):
    """Send (topic, key, value) in order; collect messages per topic until each
    topic in ``want`` has that many for our keys."""
    keys = {k for _, k, _ in sends}
    consumer = AIOKafkaConsumer(*want, bootstrap_servers=s.bootstrap_servers, group_id=uuid.uuid4().hex,
                                auto_offset_reset="earliest", fetch_max_wait_ms=50)  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=s.bootstrap_servers, acks="all")
    await consumer.start()
    await producer.start()
    got: dict[str, list] = {t: [] for t in want}
    try:
        for topic, key, value in sends:
            await producer.send_and_wait(topic, value, key=key.encode())
        deadline = asyncio.get_running_loop().time() + timeout
        while any(len(got[t]) < n for t, n in want.items()) and asyncio.get_running_loop().time() < deadline:
            for tp, recs in (await consumer.getmany(timeout_ms=200)).items():
                got[tp.topic] += [r for r in recs if r.key and r.key.decode() in keys]
    finally:
        await producer.stop()
        await consumer.stop()
    return got


def test_cards_in_predictions_out_and_the_market_predicts_the_race_again(worker: RunningWorker) -> None:
    s = worker.settings
    rid = f"race-{uuid.uuid4().hex[:6]}"
    card = _card(rid)
    first = asyncio.run(_exchange(s, [(s.topic_race_cards, rid, card.encode())], {s.topic_predictions: 1}))
    p1 = Prediction.decode(first[s.topic_predictions][0].value)
    assert p1.model_version == "1" and len(p1.runners) == len(card.runners)
    assert abs(sum(r.final_prob for r in p1.runners) - 1) < 1e-9
    assert (p1.sequence, p1.trigger, p1.final) == (0, "card", False)
    # the market moves: the favourite steams in, then the market is suspended at the off
    off = card.race.off_time
    moves = []
    for minutes, price in ((20, 4.0), (10, 3.0), (3, 1.6)):
        upd = market_update().model_copy(update={
            "race_id": rid, "runner_id": card.runners[2].runner_id, "back_price": price, "lay_price": price + 0.05,
            "publish_time": off - timedelta(minutes=minutes)})  # fmt: skip
        moves.append((s.topic_market_updates, rid, upd.encode()))
    jump = MarketUpdate(race_id=rid, runner_id=card.runners[0].runner_id, publish_time=off, status="SUSPENDED")
    moves.append((s.topic_market_updates, rid, jump.encode()))
    # T-20 and T-10 and T-3 moved (3), and the checkpoints T-10m, T-2m and T-60s (3);
    # a new reader sees the first prediction too
    got = asyncio.run(_exchange(s, moves, {s.topic_predictions: 7}))
    later = sorted((Prediction.decode(r.value) for r in got[s.topic_predictions]), key=lambda p: p.sequence)
    later = [p for p in later if p.race_id == rid]
    assert [p.sequence for p in later] == [0, 1, 2, 3, 4, 5, 6]
    later = later[1:]
    assert [p.trigger for p in later] == ["market", "market", "checkpoint", "market", "checkpoint", "checkpoint"]
    assert [p.final for p in later] == [False] * 5 + [True]
    assert later[-1].market_time == off - timedelta(minutes=3)
    moved = {r.runner_id: r for r in later[-1].runners}[card.runners[2].runner_id]
    before = {r.runner_id: r for r in p1.runners}[card.runners[2].runner_id]
    assert moved.nds_signal > 0 and moved.nds_signal != before.nds_signal
    assert moved.market_prob > before.market_prob
    assert all(r.recommendation.stake_fraction == 0 for p in [p1, *later[:-1]] for r in p.runners)
    # the same card again is a redelivery: its first answer, not a new prediction
    again = asyncio.run(_exchange(s, [(s.topic_race_cards, rid, card.encode())], {s.topic_predictions: 8}))
    p2 = Prediction.decode(again[s.topic_predictions][-1].value)
    assert (p2.request_id, p2.sequence) == (p1.request_id, 0), "a redelivered card keeps its request_id"


def test_bad_messages_go_to_dead_letters_and_the_stream_goes_on(worker: RunningWorker) -> None:
    s = worker.settings
    rid = f"race-{uuid.uuid4().hex[:6]}"
    bad_card = json.dumps({"race": {"race_id": rid}, "runners": []}).encode()
    sends = [(s.topic_race_cards, rid, b"\xff not json"), (s.topic_race_cards, rid, bad_card),
             (s.topic_market_updates, rid, b"{}"), (s.topic_race_cards, rid, _card(rid).encode())]  # fmt: skip
    got = asyncio.run(_exchange(s, sends, {s.topic_dead_letter: 3, s.topic_predictions: 1}))
    dead = [DeadLetter.decode(r.value) for r in got[s.topic_dead_letter]]
    assert len(dead) == 3 and len(got[s.topic_predictions]) == 1
    assert {d.source_topic for d in dead} == {s.topic_race_cards, s.topic_market_updates}
    assert any("not valid JSON" in d.error for d in dead)
    assert any("runners" in d.error and "race.off_time" in d.error for d in dead)
    assert all(d.source_offset >= 0 for d in dead) and b"\xff not json" in {d.original for d in dead}
    status, body = worker.http("/metrics")
    assert status == 200 and b"velo_dead_letters_total" in body


def test_challenger_is_logged_in_shadow_never_emitted(worker: RunningWorker) -> None:
    s = worker.settings
    rid = f"race-{uuid.uuid4().hex[:6]}"
    got = asyncio.run(_exchange(s, [(s.topic_race_cards, rid, _card(rid).encode())], {s.topic_predictions: 1}))
    time.sleep(1)
    assert all(Prediction.decode(r.value).model_version == "1" for r in got[s.topic_predictions])
    rows = [r for r in read_log(worker.log_dir) if r.race_id == rid]
    assert {(r.model_version, r.is_champion) for r in rows} == {("1", True), ("2", False)}


def test_http_predict_and_models(worker: RunningWorker) -> None:
    status, body = worker.http("/predict", json.dumps({"race": {"race_id": "x"}, "runners": [{}]}).encode())
    assert status == 422
    fields = {e["field"] for e in body["errors"]}
    assert {"race.off_time", "race.course", "runners.0.runner_id"} <= fields
    status, body = worker.http("/predict", race_card().encode())
    assert status == 200 and body["model_version"] == "1" and len(body["runners"]) == 4
    assert worker.http("/models/champion")[1]["version"] == "1"
    assert worker.http("/models/challenger")[1]["version"] == "2"


def test_promotion_mid_stream_loses_no_card(worker: RunningWorker) -> None:
    s = worker.settings
    rids = [f"race-{uuid.uuid4().hex[:6]}" for _ in range(30)]

    async def run() -> list[Prediction]:
        consumer = AIOKafkaConsumer(s.topic_predictions, bootstrap_servers=s.bootstrap_servers,
                                    group_id=uuid.uuid4().hex, auto_offset_reset="earliest")  # fmt: skip
        producer = AIOKafkaProducer(bootstrap_servers=s.bootstrap_servers, acks="all")
        await consumer.start()
        await producer.start()
        preds: dict[str, Prediction] = {}
        try:
            for i, rid in enumerate(rids):
                await producer.send_and_wait(s.topic_race_cards, _card(rid).encode(), key=rid.encode())
                if i == 10:
                    worker.registry.promote("velo", "2")
                    await publish_outbox(s, worker.registry)
                await asyncio.sleep(0.3)
            deadline = asyncio.get_running_loop().time() + 60
            while len(preds) < len(rids) and asyncio.get_running_loop().time() < deadline:
                for recs in (await consumer.getmany(timeout_ms=200)).values():
                    for r in recs:
                        p = Prediction.decode(r.value)
                        if p.race_id in rids:
                            preds[p.race_id] = p
        finally:
            await producer.stop()
            await consumer.stop()
        return [preds[r] for r in rids if r in preds]

    preds = asyncio.run(run())
    assert len(preds) == len(rids), "every card got a prediction across the swap"
    versions = [p.model_version for p in preds]
    assert versions[0] == "1" and versions[-1] == "2"
    assert versions == sorted(versions), "once swapped, the new champion serves every later card"


def test_examples_publish_a_card_and_print_its_prediction(worker: RunningWorker) -> None:
    s = worker.settings
    root = Path(__file__).resolve().parents[2] / "examples"
    pub = subprocess.run([sys.executable, str(root / "publish_card.py"), "--bootstrap", s.bootstrap_servers,
                          "--topic", s.topic_race_cards], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert pub.returncode == 0 and "sent EX-R1" in pub.stdout, pub.stderr
    deadline = time.monotonic() + 60
    while True:
        preds = asyncio.run(read_topic(s, s.topic_predictions, Prediction))
        if any(p.race_id == "EX-R1" for p in preds) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert any(p.race_id == "EX-R1" for p in preds), "the example card got no prediction"
    # the consumer example stops after --limit distinct predictions: all of them
    n = len({p.request_id for p in preds})
    con = subprocess.run([sys.executable, str(root / "consume_predictions.py"), "--bootstrap", s.bootstrap_servers,
                          "--topic", s.topic_predictions, "--from-beginning", "--limit", str(n)],
                         capture_output=True, text=True, timeout=90)  # fmt: skip
    assert con.returncode == 0, con.stderr[-2000:]
    lines = con.stdout.splitlines()
    assert len(lines) == n and any(line.startswith("EX-R1: velo v") for line in lines), lines[-5:]


def test_ready_beside_health_and_no_internal_pages(worker: RunningWorker) -> None:
    status, body = worker.http("/ready")
    assert status == 200 and body["ok"] and body["champion"] is not None
    for path in ("/router/", "/table/", "/graph/", "/stats/"):
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"http://127.0.0.1:{worker.port}{path}", timeout=10)
        assert info.value.code == 404, f"Faust's internal page {path} is served"


def test_a_refused_model_swap_makes_health_fail_and_keeps_serving(worker: RunningWorker) -> None:
    """Last in this module: it leaves the worker unhealthy. A version whose
    artifact is damaged after promotion cannot be loaded; the worker keeps its
    running champion, and /health says why (it stayed 200 before)."""
    reg, s = worker.registry, worker.settings
    serving = worker.http("/models/champion")[1]["version"]
    rec = reg.register(worker.registry.root / "velo" / "1", "velo")
    reg.promote("velo", rec.version)
    (reg.root / "velo" / rec.version / "sqpe.skops").write_bytes(b"truncated")
    asyncio.run(publish_outbox(s, reg))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status, body = worker.http("/health")
        if status == 503:
            break
        time.sleep(0.5)
    assert status == 503, body
    assert any(r.startswith("model swap failed") for r in body["reasons"]), body
    assert worker.http("/models/champion")[1]["version"] == serving
