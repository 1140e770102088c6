"""Replay the full Hong Kong history through a running worker and check that
the backtest from the topics reproduces the offline one.

Publishes every card, market update and result (Benter's setting: the final
odds stand in for the decision-time price, so every race has a market
snapshot) into the embedded broker, a day at a time with barriers, through
one worker serving a model trained on the seasons before 2001; then reads the
predictions and results back and compares them with the same model computed
offline. Goal: all 6,348 races in under 60 s.

The same artifact is also registered as version 2 and shadowed as the
challenger, so that afterwards ``velo models compare`` runs on the worker's
prediction log and says how many races it used: every predicted race has its
result, so every one must be used.

Usage: python bench/replay.py
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, update_section, write_result
from schemas import Prediction, RaceResult
from streams.app import worker_group
from streams.embedded import start_embedded_stack
from streams.replay import replay
from streams.topic_reader import read_topic
from streams.worker_process import start_worker, wait_healthy
from velo.backtest import scored
from velo.data.sources import load_dataset
from velo.features.offline import build_training_set
from velo.registry import Registry
from velo.training.artifacts import save_model
from velo.training.pipeline import TrainConfig, fit_model

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "hkracing"


def main() -> None:
    if not DATA.exists():
        sys.exit(f"needs the Hong Kong data at {DATA}")
    tmp = Path(tempfile.mkdtemp(prefix="velo-replay-bench-"))
    ds = load_dataset("hk", DATA, hk_final_as_pre=True)
    events = ds.events()
    frame = build_training_set(events)
    model, _ = fit_model(frame[frame["off_time"] < pd.Timestamp("2000-09-01", tz="UTC")], TrainConfig())
    save_model(model, tmp / "model")
    offline = scored.predicted(model, frame)
    stack = start_embedded_stack(None, 0, 0)
    worker = None
    try:
        settings = stack.settings(registry_dir=tmp / "reg", log_dir=tmp / "logs")
        reg = Registry(settings.registry_dir)
        reg.register(tmp / "model", "velo")
        reg.promote("velo", "1")
        reg.register(tmp / "model", "velo")
        reg.set_challenger("velo", "2")
        worker, port = start_worker(settings, tmp)
        wait_healthy(worker, port, 180)
        summary = asyncio.run(replay(events, settings, group=worker_group("velo"), timeout_s=300))
        n_cards = summary.cards
        t0 = time.perf_counter()
        while True:
            preds = asyncio.run(read_topic(settings, settings.topic_predictions, Prediction))
            if len({p.race_id for p in preds}) >= n_cards or time.perf_counter() - t0 > 120:
                break
            time.sleep(1)
        drain = time.perf_counter() - t0
        results = asyncio.run(read_topic(settings, settings.topic_race_results, RaceResult))
        served, counts = scored.from_messages(preds, results)
        # the state the worker keeps for the whole history, for docs/scaling.md
        memory = redis.Redis.from_url(settings.redis_url).info("memory")
        redis_bytes = {"used_memory": memory["used_memory"], "used_memory_dataset": memory.get("used_memory_dataset")}
    finally:
        if worker is not None:
            worker.stop(10)
        stack.stop()
    compare = subprocess.run([sys.executable, "-m", "velo.cli.main", "models", "compare", "velo", "--log-dir",
                              str(tmp / "logs"), "--json", "--bootstrap", "200", "--out", str(tmp / "cmp")],
                             capture_output=True, text=True, env={**os.environ, **settings.env()})  # fmt: skip
    try:
        coverage = json.loads(compare.stdout)["coverage"]
    except (ValueError, KeyError):
        coverage = {"error": (compare.stderr or compare.stdout)[-500:]}
    print("velo models compare:", coverage)
    same_rows = served[["race_id", "runner_id"]].equals(offline[["race_id", "runner_id"]])
    diff = float(np.nanmax(np.abs(served["final_prob"].to_numpy() - offline["final_prob"].to_numpy()))) \
        if same_rows else None  # fmt: skip
    rep_s, rep_o = scored.report(served, "season"), scored.report(offline, "season")
    s = summary.as_dict()
    total = s["seconds"] + drain
    result = {
        "replay": s, "drain_seconds": round(drain, 2), "total_seconds": round(total, 2),
        "races_predicted": counts["races_predicted"], "races_scored": counts["races_with_result"],
        "same_rows_as_offline": same_rows, "max_abs_diff_final_prob": diff,
        "logloss_topics": rep_s["overall"]["model"]["logloss"], "logloss_offline": rep_o["overall"]["model"]["logloss"],
        "compare_coverage": coverage, "goal_seconds": 60, "redis_memory": redis_bytes,
        "barrier_ms": {q: round(float(np.percentile(summary.barrier_waits, q)) * 1000, 1) for q in (50, 90)},
        "machine": machine(),
    }  # fmt: skip
    print(result)
    write_result("replay", result)
    m = result["machine"]
    update_section(
        "replay",
        f"""## Replaying Hong Kong through the worker (`bench/replay.py`)

Command: `.venv/bin/python bench/replay.py` · embedded Tansu + Redis, one worker, day barriers ·
{m["cpu"]}, {m["cores"]} cores · commit {m["commit"]}

| measure | value | goal |
|---|---|---|
| races replayed / predicted / scored from the topics | {s["cards"]:,} / {counts["races_predicted"]:,} / {counts["races_with_result"]:,} | 6,348 |
| events (cards, market updates, results) | {s["events"]:,} ({s["cards"]:,}, {s["market_updates"]:,}, {s["results"]:,}) | |
| wall time, first event sent to last prediction read | **{total:.1f} s** ({s["seconds"]:.1f} s publishing over {s["days"]} race days, {s["waiting_seconds"]:.1f} s of it waiting at barriers) | < 60 s |
| events/s | **{s["events"] / total:,.0f}** | |
| max abs difference of final_prob, topics vs offline | {diff if diff is None else f"{diff:.1e}"} | <= 1e-9 |
| model log-loss, from topics / offline | {rep_s["overall"]["model"]["logloss"]:.6f} / {rep_o["overall"]["model"]["logloss"]:.6f} | equal |
| `velo models compare` on the worker's log: races used / predicted races without an outcome | {coverage.get("races_used", "?")} / {coverage.get("races_without_outcome", "?")} | 6,348 / 0 |
| a day barrier (the worker's time for one race day), p50 / p90 | {result["barrier_ms"][50]} / {result["barrier_ms"][90]} ms | |
| Redis memory after the whole history (features, cards, market state, logs' join keys) | {redis_bytes["used_memory"] / 1e6:,.0f} MB | |

Since issue 12 the worker waits for the broker's acknowledgement of every prediction before committing, and the
replay shadows a challenger (the same artifact as version 2), so that the compare line above can be checked.
""",
    )


if __name__ == "__main__":
    main()
