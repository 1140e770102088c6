"""End-to-end streaming benchmark on the embedded stack.

- latency: card produced -> prediction consumed, p50/p99, at a fixed rate
  (default 50 races/s, 14 runners a race, challenger in shadow);
- throughput: races/s one worker sustains on a backlog;
- idle CPU of the worker with the low fetch wait against Faust's default 1500 ms;
- the transport floor in the same run: a bare aiokafka echo (``bench/echo.py``)
  on the same broker with the same fetch wait, driven the same way, and the
  worker's figures as ratios to it (the machine is noisy; ratios are not);
- the worker's service on the bare transport (``bench/service_echo.py``: an
  aiokafka batch consumer, scoring on the event loop, no service thread, no
  dead letters or outage handling): what the work alone costs.

Goals: p50 <= 10 ms, p99 <= 50 ms, >= 500 races/s.
Usage: python bench/stream.py [--rate 50] [--seconds 20] [--backlog 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.common import machine, update_section, write_result
from bench.echo import wait_assigned
from schemas import MarketUpdate, RaceCard
from schemas.race_card import Runner
from streams.admin import ensure_topics
from streams.embedded import start_embedded_stack
from streams.worker_process import start_worker, wait_healthy
from velo.features.offline import build_training_set
from velo.features.redis_store import RedisStore
from velo.markets.store import MarketStore
from velo.registry import Registry
from velo.sim import SimConfig, simulate
from velo.stack.process import ManagedProcess
from velo.training.artifacts import save_model
from velo.training.pipeline import TrainConfig, fit_model


def card14(template: RaceCard, race_id: str) -> RaceCard:
    runners = [Runner(runner_id=f"b-h{i}", draw=i + 1, weight_carried=55.0, rating=60.0 + i, jockey_id=f"b-j{i % 7}",
                      trainer_id=f"b-t{i % 5}", price=3.0 + i) for i in range(14)]  # fmt: skip
    return RaceCard(race=template.race.model_copy(update={"race_id": race_id}), runners=runners)


async def drive(settings, template: RaceCard, rate: float | None, n: int) -> tuple[list[float], float, list[float]]:
    """Send n cards (at ``rate``/s, or as fast as possible) and time each
    prediction; also return the worker's batch size for each."""
    consumer = AIOKafkaConsumer(settings.topic_predictions, bootstrap_servers=settings.bootstrap_servers,
                                group_id=uuid.uuid4().hex, auto_offset_reset="latest", fetch_max_wait_ms=5)  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, linger_ms=0)
    await consumer.start()
    await producer.start()
    await wait_assigned(consumer)
    sent: dict[str, float] = {}
    lat: list[float] = []
    batches: list[float] = []
    tag = uuid.uuid4().hex[:6]
    cards = [card14(template, f"bench-{tag}-{i}").encode() for i in range(n)]

    async def receive() -> None:
        while len(lat) < n:
            for recs in (await consumer.getmany(timeout_ms=100)).values():
                now = time.perf_counter()
                for r in recs:
                    rid = r.key.decode()
                    if rid in sent:
                        lat.append(now - sent.pop(rid))
                        batches.append(orjson.loads(r.value).get("timings_ms", {}).get("batch_size", 1.0))

    rx = asyncio.create_task(receive())
    t0 = time.perf_counter()
    for i, raw in enumerate(cards):
        if rate:
            await asyncio.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
        rid = f"bench-{tag}-{i}"
        sent[rid] = time.perf_counter()
        await producer.send(settings.topic_race_cards, raw, key=rid.encode())
    with contextlib.suppress(TimeoutError):  # report what arrived
        await asyncio.wait_for(rx, timeout=max(60.0, n / 20))
    total = time.perf_counter() - t0
    await producer.stop()
    await consumer.stop()
    return lat, total, batches


async def drive_market(settings, n_races: int, per_runner: int) -> dict:
    """Send a backlog of market updates (14 runners a race, ``per_runner``
    each) and time until the worker has applied every one, read back from
    the market state it keeps in Redis."""
    tag = uuid.uuid4().hex[:6]
    races = [f"mkt-{tag}-{i}" for i in range(n_races)]
    t_base = datetime.now(UTC)
    msgs = [
        (race.encode(), MarketUpdate(race_id=race, runner_id=f"b-h{r}", publish_time=t_base + timedelta(seconds=k),
                                     back_price=3.0 + r + k / 10, lay_price=3.2 + r + k / 10,
                                     traded_volume=100.0 * k).encode())
        for k in range(per_runner) for race in races for r in range(14)
    ]  # fmt: skip
    markets = MarketStore(RedisStore.from_url(settings.redis_url))
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, linger_ms=5)
    await producer.start()
    t0 = time.perf_counter()
    for key, value in msgs:
        await producer.send(settings.topic_market_updates, value, key=key)
    await producer.flush()
    t_sent = time.perf_counter() - t0
    applied, deadline = 0, time.monotonic() + max(120.0, len(msgs) / 200)
    while applied < len(msgs) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        applied = sum(m.updates for m in markets.get_many(races) if m is not None)
    total = time.perf_counter() - t0
    await producer.stop()
    return {"sent": len(msgs), "applied": applied, "seconds": round(total, 2), "publish_seconds": round(t_sent, 2),
            "updates_per_s": round(applied / total, 1)}  # fmt: skip


def measure(settings, template: RaceCard, rate: float, n: int, backlog: int) -> dict:
    """p50/p99 at ``rate`` and throughput on a backlog, against whatever
    consumes ``topic_race_cards`` and answers on ``topic_predictions``."""
    lat, _, sizes = asyncio.run(drive(settings, template, rate, n))
    entry: dict = {"sent": n, "received": len(lat), "mean_batch": round(float(np.mean(sizes)), 1) if sizes else None}
    if lat:
        ms = np.array(lat) * 1000
        entry.update(p50_ms=round(float(np.percentile(ms, 50)), 2), p99_ms=round(float(np.percentile(ms, 99)), 2))
    if backlog:
        blat, total, bsizes = asyncio.run(drive(settings, template, None, backlog))
        entry["backlog_mean_batch"] = round(float(np.mean(bsizes)), 1) if bsizes else None
        entry["throughput_races_per_s"] = round(len(blat) / total, 1)
        entry["backlog"] = {"sent": backlog, "received": len(blat), "seconds": round(total, 2)}
    return entry


def _drive_echo(settings, template: RaceCard, workdir: Path, name: str, argv: list[str], rate: float, n: int,
                backlog: int, settle_s: float = 0.0) -> dict:  # fmt: skip
    """Start an echo (``argv`` after the topics ``name``-in and ``name``-out)
    on the same broker, wait for its "ready", then drive it as the worker is
    driven. ``settle_s``: a pause and a warm-up first, for an echo whose
    group assigns its partitions after it says it is ready."""
    s = settings.model_copy(update={"topic_race_cards": f"{name}-in", "topic_predictions": f"{name}-out"})
    asyncio.run(ensure_topics(s))
    proc = ManagedProcess(name, [sys.executable, *argv], workdir / f"{name}.log", env=s.env())
    proc.start()
    try:
        deadline = time.monotonic() + 60
        while "ready" not in proc.log_tail() and time.monotonic() < deadline:
            time.sleep(0.2)
        if settle_s:
            time.sleep(settle_s)
            measure(s, template, rate, 20, 0)
        return measure(s, template, rate, n, backlog)
    finally:
        proc.stop(10)


def echo_floor(settings, template: RaceCard, workdir: Path, rate: float, n: int, backlog: int) -> dict:
    """The same drive against a bare aiokafka echo on the same broker."""
    argv = [str(Path(__file__).with_name("echo.py")), settings.bootstrap_servers, "echo-in", "echo-out",
            str(settings.consumer_fetch_max_wait_ms)]  # fmt: skip
    return _drive_echo(settings, template, workdir, "echo", argv, rate, n, backlog)


def service_floor(settings, template: RaceCard, workdir: Path, rate: float, n: int, backlog: int) -> dict:
    """The same drive against ``bench/service_echo.py``: the worker's service
    (same Redis and registry) on a bare aiokafka batch consumer."""
    argv = [str(Path(__file__).with_name("service_echo.py")), "service-echo-in", "service-echo-out"]
    return _drive_echo(settings, template, workdir, "service-echo", argv, rate, n, backlog, settle_s=3.0)


def prepare_registry(tmp: Path) -> RaceCard:
    """A champion and a shadow challenger under ``tmp/reg``; returns the card to send."""
    register_pair(tmp, build_training_set(simulate(SimConfig(seed=5, days=60, n_horses=400)).events()))
    return next(e.message for e in simulate(SimConfig(seed=5, days=4, n_horses=100)).events() if e.kind == "card")


def register_pair(tmp: Path, frame) -> None:
    """Two small models fitted on ``frame``: v1 the champion, v2 its shadow challenger."""
    reg = Registry(tmp / "reg")
    for seed in (0, 1):
        model, _ = fit_model(frame, TrainConfig(sqpe_max_iter=100, random_state=seed))
        save_model(model, tmp / f"m{seed}")
        reg.register(tmp / f"m{seed}", "velo")
    reg.promote("velo", "1")
    reg.set_challenger("velo", "2")


def idle_cpu(pid: int, seconds: float) -> float:
    p = psutil.Process(pid)
    before = sum(p.cpu_times()[:2])
    time.sleep(seconds)
    return (sum(p.cpu_times()[:2]) - before) / seconds * 100


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=50)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--backlog", type=int, default=2000)
    ap.add_argument("--market-races", type=int, default=500, help="races in the market-update backlog (14 x 3 each)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="velo-bench-"))
    template = prepare_registry(tmp)
    stack = start_embedded_stack(None, 0, 0)
    result: dict = {}
    try:
        settings = stack.settings(registry_dir=tmp / "reg", log_dir=tmp / "logs")
        for wait_ms in (5, 1500):
            proc, port = start_worker(settings.model_copy(update={"consumer_fetch_max_wait_ms": wait_ms}),
                                      tmp / f"worker-{wait_ms}")  # fmt: skip
            try:
                wait_healthy(proc, port, 180)
                time.sleep(5)
                cpu = idle_cpu(proc.pid, 15)
                n = int(args.rate * (args.seconds if wait_ms == 5 else 5))
                entry = {"idle_cpu_percent": round(cpu, 1),
                         **measure(settings, template, args.rate, n, args.backlog if wait_ms == 5 else 0)}  # fmt: skip
                if wait_ms == 5:
                    entry["market_updates"] = asyncio.run(drive_market(settings, args.market_races, 3))
                result[f"fetch_wait_{wait_ms}ms"] = entry
                print(wait_ms, entry)
            finally:
                proc.stop(30)
        n = int(args.rate * args.seconds)
        result["echo_floor"] = echo_floor(settings, template, tmp, args.rate, n, args.backlog)
        print("echo", result["echo_floor"])
        result["service_echo"] = service_floor(settings, template, tmp, args.rate, n, args.backlog)
        print("service echo", result["service_echo"])
    finally:
        stack.stop()
    floor, worker = result["echo_floor"], result["fetch_wait_5ms"]
    result["ratios"] = {
        "p50_to_floor": _ratio(worker.get("p50_ms"), floor.get("p50_ms")),
        "p99_to_floor": _ratio(worker.get("p99_ms"), floor.get("p99_ms")),
        "throughput_share_of_floor": _ratio(worker.get("throughput_races_per_s"), floor.get("throughput_races_per_s")),
    }
    bare = result["service_echo"]
    result["ratios"] |= _echo_ratios("service_echo", bare, floor)
    print("ratios", result["ratios"])
    result["goals"] = {"p50_ms": 10, "p99_ms": 50, "races_per_s": 500, "p50_to_floor": 1.5,
                       "throughput_share_of_floor": 0.25, "market_updates_per_s": 5000}  # fmt: skip
    result["machine"] = machine()
    write_result("stream", result)
    low, high = result["fetch_wait_5ms"], result["fetch_wait_1500ms"]
    m = result["machine"]
    update_section(
        "stream",
        f"""## Streaming worker end to end (`bench/stream.py`)

Command: `.venv/bin/python bench/stream.py --rate {args.rate:g} --seconds {args.seconds:g} --backlog {args.backlog}` ·
one worker, embedded Tansu + Redis, 14 runners a race, challenger in shadow · {m["cpu"]}, {m["cores"]} cores · commit {m["commit"]}

| measure | fetch wait 5 ms (default) | fetch wait 1500 ms (Faust's default) | goal |
|---|---|---|---|
| card produced -> prediction consumed, p50 at {args.rate:g} races/s | **{low.get("p50_ms")} ms** | {high.get("p50_ms")} ms | <= 10 ms |
| same, p99 | **{low.get("p99_ms")} ms** | {high.get("p99_ms")} ms | <= 50 ms |
| races/s on a backlog of {args.backlog} | **{low.get("throughput_races_per_s")}** | | >= 500 |
| worker CPU when idle | {low["idle_cpu_percent"]}% of a core | {high["idle_cpu_percent"]}% of a core | |
| market updates applied per second, backlog of {low["market_updates"]["sent"]:,} | **{low["market_updates"]["updates_per_s"]:,}** | | >= 5,000 |

The transport floor in the same run: a bare aiokafka echo (`bench/echo.py`: consume a card, produce the same bytes,
wait for the acknowledgement; same broker, same 5 ms fetch wait, driven the same way). Beside them, the
worker's service alone on the same kind of consumer (`bench/service_echo.py`: the same service, Redis and
models, scoring on the event loop; no service thread, dead letters or outage handling).

| measure | echo floor | service alone | worker | worker / floor | goal |
|---|---|---|---|---|---|
| p50 at {args.rate:g}/s | {floor.get("p50_ms")} ms | {bare.get("p50_ms")} ms ({result["ratios"]["service_echo_p50_to_floor"]}x) | {low.get("p50_ms")} ms | **{result["ratios"]["p50_to_floor"]}x** | <= 1.5x |
| p99 at {args.rate:g}/s | {floor.get("p99_ms")} ms | {bare.get("p99_ms")} ms | {low.get("p99_ms")} ms | {result["ratios"]["p99_to_floor"]}x | |
| messages/s on a backlog of {args.backlog} | {floor.get("throughput_races_per_s")} | {bare.get("throughput_races_per_s")} ({result["ratios"]["service_echo_throughput_share_of_floor"]} of the floor) | {low.get("throughput_races_per_s")} | **{result["ratios"]["throughput_share_of_floor"]}** of the floor | >= 0.25 |
""",
    )


def _echo_ratios(name: str, entry: dict, floor: dict) -> dict:
    """An in-between echo's p50 and throughput as ratios to the floor's."""
    return {f"{name}_p50_to_floor": _ratio(entry.get("p50_ms"), floor.get("p50_ms")),
            f"{name}_throughput_share_of_floor": _ratio(entry.get("throughput_races_per_s"),
                                                        floor.get("throughput_races_per_s"))}  # fmt: skip


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


if __name__ == "__main__":
    main()
