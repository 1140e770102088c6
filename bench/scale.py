"""The seed's scale on one machine: offline stages on 100,000 simulated races,
and a stream replay of 20,000 races through one and two workers.

Offline (in this process; wall time and peak resident memory per stage):
  simulate -> events -> features (the stream's engine, in-process store) ->
  train on everything -> a one-season walk-forward (train on the seasons
  before the last, score the last against the market).
  Goal: features + training + walk-forward under 10 minutes here. Simulating
  the data is reported but is not part of the pipeline being measured.

Stream (embedded Tansu + Redis, a fresh stack per run, champion + shadow
challenger): ``velo replay``'s day barriers over 20,000 races, with one
worker and with two workers in one consumer group; races/s for each, and the
barrier waits that bound scale-out.

The simulator runs four meetings a race day (32 races) with market ticks off:
the card's price is the market view, and market-update throughput is measured
separately by bench/stream.py.

Usage: python bench/scale.py [--races 100000] [--stream-races 20000] [--skip-offline] [--skip-stream]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import RESULTS, machine, update_section, write_result
from bench.stream import register_pair
from streams.app import worker_group
from streams.embedded import start_embedded_stack
from streams.replay import replay
from streams.worker_process import start_worker, wait_healthy
from velo.backtest.walkforward import walk_forward
from velo.data.events import build_events
from velo.features.offline import build_training_set
from velo.sim import SimConfig, simulate
from velo.training.pipeline import TrainConfig, fit_model
from velo.training.splits import period_label

RACES_PER_DAY = 32  # four meetings of eight


def world(races: int, seed: int) -> SimConfig:
    """A simulated jurisdiction big enough that horses turn over."""
    race_days = -(-races // RACES_PER_DAY)
    return SimConfig(seed=seed, days=2 * race_days, day_step=2, meetings_per_day=4, n_horses=6000, n_jockeys=300,
                     n_trainers=200, courses=("North", "South", "East", "West"), market_ticks=False)  # fmt: skip


class PeakRSS:
    """Samples this process's resident memory in a thread; the peak since reset."""

    def __init__(self, every_s: float = 0.05) -> None:
        self.proc = psutil.Process()
        self.peak = 0
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(self.every_s)

    def reset(self) -> None:
        gc.collect()
        self.peak = self.proc.memory_info().rss

    def stop(self) -> None:
        self._stop.set()


def stage(rss: PeakRSS, stages: dict, name: str, fn: Callable[[], Any]) -> Any:
    rss.reset()
    before = rss.proc.memory_info().rss
    t0 = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t0
    stages[name] = {"seconds": round(seconds, 1), "peak_rss_gb": round(max(rss.peak, rss.proc.memory_info().rss) / 1e9, 2),
                    "rss_before_gb": round(before / 1e9, 2)}  # fmt: skip
    print(f"{name}: {stages[name]}", flush=True)
    return out


def offline(n_races: int) -> dict:
    rss = PeakRSS()
    stages: dict[str, dict] = {}
    sim = stage(rss, stages, "simulate", lambda: simulate(world(n_races, seed=11)))
    canonical = sim.canonical
    del sim
    events = stage(rss, stages, "events", lambda: build_events(canonical))
    frame = stage(rss, stages, "features", lambda: build_training_set(events))
    runners = len(frame)
    stages["features"]["runners_per_s"] = round(runners / stages["features"]["seconds"])
    stage(rss, stages, "train", lambda: fit_model(frame, TrainConfig()))
    period = "season" if period_label(frame["off_time"], "season").nunique() > 1 else "month"  # small smoke runs
    labels = period_label(frame["off_time"], period)
    last = labels.iloc[frame["off_time"].argmax()]
    test_from = frame.loc[labels == last, "off_time"].min()
    report, _ = stage(rss, stages, "walk_forward", lambda: walk_forward(frame, test_from, period=period))
    rss.stop()
    o = report["overall"]
    pipeline = sum(stages[k]["seconds"] for k in ("events", "features", "train", "walk_forward"))
    return {
        "races": int(frame["race_id"].nunique()), "runners": runners, "stages": stages,
        "pipeline_seconds": round(pipeline, 1), "goal_seconds": 600,
        "walk_forward": {"season": str(last), "test_races": o.get("model", {}).get("n_races"),
                         "model_pseudo_r2": round(o.get("model", {}).get("pseudo_r2", float("nan")), 4),
                         "market_pseudo_r2": round(o.get("market_final", {}).get("pseudo_r2", float("nan")), 4)},
    }  # fmt: skip


def stream_run(events: list, tmp: Path, workers: int) -> dict:
    stack = start_embedded_stack(None, 0, 0)
    procs = []
    try:
        settings = stack.settings(registry_dir=tmp / "reg", log_dir=tmp / f"logs-{workers}")
        for i in range(workers):
            proc, port = start_worker(settings, tmp / f"w{workers}-{i}")
            procs.append((proc, port))
        for proc, port in procs:
            wait_healthy(proc, port, 180)
        time.sleep(12 if workers > 1 else 3)  # let the group settle its partitions
        summary = asyncio.run(replay(events, settings, group=worker_group("velo"), timeout_s=600))
    finally:
        for proc, _ in procs:
            proc.stop(20)
        stack.stop()
    waits = np.array(summary.barrier_waits) * 1000
    return {
        "workers": workers, "races": summary.cards, "days": summary.days, "seconds": round(summary.seconds, 1),
        "races_per_s": round(summary.cards / summary.seconds, 1),
        "barrier_ms": {"p50": round(float(np.percentile(waits, 50)), 1), "p90": round(float(np.percentile(waits, 90)), 1),
                       "min": round(float(waits.min()), 1)},
        "waiting_share": round(summary.waiting_seconds / summary.seconds, 3),
    }  # fmt: skip


def stream(n_races: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="velo-scale-"))
    sim = simulate(world(n_races + 2000, seed=23))
    first = sim.canonical["off_time"].sort_values().unique()
    cut = first[int(len(first) * 2000 / (n_races + 2000))]
    train = build_training_set(build_events(sim.canonical[sim.canonical["off_time"] < cut]))
    register_pair(tmp, train)
    events = build_events(sim.canonical)
    print(f"stream: {len(events):,} events", flush=True)
    return {"one": stream_run(events, tmp, 1), "two": stream_run(events, tmp, 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--races", type=int, default=100_000)
    ap.add_argument("--stream-races", type=int, default=20_000)
    ap.add_argument("--skip-offline", action="store_true")
    ap.add_argument("--skip-stream", action="store_true")
    ap.add_argument("--no-markdown", action="store_true")
    args = ap.parse_args()
    result: dict[str, Any] = {"machine": machine()}
    if not args.skip_offline:
        result["offline"] = offline(args.races)
        print(result["offline"], flush=True)
    if not args.skip_stream:
        result["stream"] = stream(args.stream_races)
        print(result["stream"], flush=True)
    # a part skipped keeps its last recorded figures (and their machine and commit)
    previous = RESULTS / "scale.json"
    if previous.exists():
        before = json.loads(previous.read_text())
        for part in ("offline", "stream"):
            if part not in result and part in before:
                result[part] = before[part]
                result.setdefault("kept_from", {})[part] = before.get("kept_from", {}).get(part, before["machine"])
    write_result("scale", result)
    if not args.no_markdown and "offline" in result and "stream" in result:
        update_section("scale", markdown(result, args))


def markdown(r: dict, args: argparse.Namespace) -> str:
    m, o, s = r["machine"], r["offline"], r["stream"]
    rows = "\n".join(
        f"| {name} | {st['seconds']:,.1f} s | {st['peak_rss_gb']:.2f} GB |" for name, st in o["stages"].items()
    )
    one, two = s["one"], s["two"]
    wf = o["walk_forward"]
    kept = "".join(
        f"\nThe {part} figures are from an earlier run (commit {k.get('commit')}, {k.get('cpu')}), not re-run here.\n"
        for part, k in r.get("kept_from", {}).items()
    )
    return f"""## The seed's scale on one machine (`bench/scale.py`)

Command: `.venv/bin/python bench/scale.py --races {args.races} --stream-races {args.stream_races}` ·
simulator, four meetings a race day, market ticks off · {m["cpu"]}, {m["cores"]} cores · commit {m["commit"]}

Offline, {o["races"]:,} races ({o["runners"]:,} runners), in one process:

| stage | wall time | peak resident memory |
|---|---|---|
{rows}

Features ran at {o["stages"]["features"]["runners_per_s"]:,} runners/s. Events, features, training and the
walk-forward took **{o["pipeline_seconds"]:,.0f} s** (goal: under 600 s; simulating the data is not counted).
The walk-forward season ({wf["season"]}, {wf["test_races"]} races): model pseudo-R² {wf["model_pseudo_r2"]},
market {wf["market_pseudo_r2"]}.

Stream, {one["races"]:,} races over {one["days"]} race days replayed with day barriers (champion + shadow challenger;
the first 2,000 races trained both models and are replayed too):

| workers | wall time | races/s | barrier wait p50 / p90 / min | time waiting at barriers |
|---|---|---|---|---|
| 1 | {one["seconds"]:,.1f} s | **{one["races_per_s"]}** | {one["barrier_ms"]["p50"]} / {one["barrier_ms"]["p90"]} / {one["barrier_ms"]["min"]} ms | {one["waiting_share"]:.0%} |
| 2 | {two["seconds"]:,.1f} s | **{two["races_per_s"]}** | {two["barrier_ms"]["p50"]} / {two["barrier_ms"]["p90"]} / {two["barrier_ms"]["min"]} ms | {two["waiting_share"]:.0%} |

{kept}
What this means for 1.7M races and a day's global racing: [docs/scaling.md](docs/scaling.md).
"""


if __name__ == "__main__":
    main()
