"""Replay a simulated history through a real worker, read the served
predictions back from the topics, and compare them with the same model
computed offline: they must agree to 1e-9."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
import redis
from click.testing import CliRunner

from schemas import Prediction, RaceResult
from streams.app import worker_group
from streams.replay import day_segments, replay
from streams.topic_reader import read_topic
from tests.streams.test_worker import RunningWorker, healthy_worker, worker_settings
from velo.backtest import scored
from velo.cli.main import main
from velo.features.records import cutoff_ts
from velo.sim import SimConfig, simulate
from velo.stack import EmbeddedStack
from velo.training.artifacts import load_model

SIM = SimConfig(seed=64, days=12, n_horses=150)


@pytest.fixture(scope="module")
def events():
    return simulate(SIM).events()


@pytest.fixture(scope="module")
def worker(stack: EmbeddedStack, model_dirs, tmp_path_factory) -> Iterator[RunningWorker]:
    tmp = tmp_path_factory.mktemp("replay")
    settings, reg = worker_settings(stack, tmp, model_dirs)
    # a Redis database of its own: other tests' races must not be in its features
    url = settings.redis_url.rsplit("/", 1)[0] + "/5"
    redis.Redis.from_url(url).flushdb()
    with healthy_worker(settings.model_copy(update={"redis_url": url}), reg, tmp) as running:
        yield running


def test_segments_keep_event_order_and_put_a_barrier_between_a_card_and_what_it_reads(events) -> None:
    segs = day_segments(events)
    flat = [e for s in segs for e in s]
    assert sorted(flat) == sorted(events) and len(flat) == len(events)
    day = {e.key: cutoff_ts(e.message.race.off_time.timestamp()) for e in events if e.kind == "card"}
    assert sum(any(e.kind == "card" for e in s) for s in segs) == len(set(day.values())), "one barrier a race day"
    for seg in segs:
        assert all(seg[i] <= seg[i + 1] for i in range(len(seg) - 1)), "a segment is out of event-time order"
        assert len({day[e.key] for e in seg if e.kind == "card"}) <= 1, "one race day per segment"
    # a race's updates before its card are in an earlier segment than the
    # card, and the ones after it (the suspension at the off) in a later one
    where = {id(e): k for k, s in enumerate(segs) for e in s}
    card = {e.key: e for e in events if e.kind == "card"}
    later = 0
    for e in events:
        if e.kind == "market" and e.key in card:
            c = card[e.key]
            if e.time > c.time:
                later += 1
                assert where[id(e)] > where[id(c)], "an update after its card went out before the barrier"
            else:
                assert where[id(e)] < where[id(c)], "an update before its card went out after it"
    assert later == len(card)  # one suspension a race
    # a result and its card go out before every card of a later day, with a barrier between
    for r in (e for e in events if e.kind == "result"):
        assert where[id(card[r.key])] == where[id(r)]
        assert all(where[id(c)] > where[id(r)] for k, c in card.items() if day[k] > day[r.key])


def _served(worker: RunningWorker, n_cards: int) -> tuple[list[Prediction], list[RaceResult]]:
    s = worker.settings
    deadline = time.monotonic() + 60
    while True:
        preds = asyncio.run(read_topic(s, s.topic_predictions, Prediction))
        if len({p.race_id for p in preds}) >= n_cards or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    return preds, asyncio.run(read_topic(s, s.topic_race_results, RaceResult))


def test_replay_reproduces_the_offline_predictions(worker: RunningWorker, events, model_dirs, tmp_path) -> None:
    summary = asyncio.run(replay(events, worker.settings, group=worker_group("velo"), timeout_s=90))
    n_cards = sum(e.kind == "card" for e in events)
    assert summary.cards == n_cards and summary.events == len(events)
    assert summary.days == len({cutoff_ts(e.message.race.off_time.timestamp()) for e in events if e.kind == "card"})

    preds, results = _served(worker, n_cards)
    assert {p.model_version for p in preds} == {"1"}, "only the champion is emitted"
    streamed, counts = scored.from_messages(preds, results)
    cards = {e.key for e in events if e.kind == "card"}
    missing = {"no prediction": sorted(cards - {p.race_id for p in preds}),
               "no result": sorted(cards - {r.race_id for r in results})}  # fmt: skip
    assert counts["races_with_result"] == n_cards, (counts, missing)
    offline = scored.offline(load_model(model_dirs[0]), events)

    key = ["race_id", "runner_id"]
    assert streamed[key].equals(offline[key])
    for col in ("final_prob", "sqpe_prob", "tie_intent", "nds_signal", "market_prob", "stake_fraction", "price_pre",
                "won", "price_final"):  # fmt: skip
        a, b = streamed[col].to_numpy(dtype=float), offline[col].to_numpy(dtype=float)
        assert np.array_equal(np.isnan(a), np.isnan(b)), col
        assert np.nanmax(np.abs(a - b)) <= 1e-9, f"{col} differs by {np.nanmax(np.abs(a - b))}"
    # the market view really was in play (not all NaN) and moved NDS
    assert streamed["market_prob"].notna().all() and (streamed["nds_signal"].abs() > 0).any()

    # the CLI writes the same report from the topics as from the model offline
    env = worker.settings.env()
    run = CliRunner().invoke(main, ["backtest", "--from-topics", "--period", "month", "--out", str(tmp_path / "t")],
                             env=env)  # fmt: skip
    assert run.exit_code == 0, run.output
    topics_report = json.loads((tmp_path / "t" / "report.json").read_text())
    direct = scored.report(streamed, "month")
    want = direct["overall"]["model"]["logloss"]
    assert topics_report["overall"]["model"]["logloss"] == pytest.approx(want, abs=1e-9)
    assert topics_report["overall"]["model"]["n_races"] == n_cards
    offline_report = scored.report(offline, "month")
    for who in ("model", "sqpe", "market_pre"):
        for metric in ("logloss", "pseudo_r2", "brier"):
            assert topics_report["overall"][who][metric] == pytest.approx(
                offline_report["overall"][who][metric], abs=1e-9
            ), (who, metric)
    assert len(topics_report["periods"]) == pd.Series(streamed["off_time"].dt.strftime("%Y-%m")).nunique()

    # --test-from leaves the earlier (in-sample) races out, and says how many
    days = sorted(streamed["off_time"].dt.strftime("%Y-%m-%d").unique())
    later = streamed.loc[streamed["off_time"] >= pd.Timestamp(days[len(days) // 2], tz="UTC"), "race_id"].nunique()
    run = CliRunner().invoke(main, ["backtest", "--from-topics", "--test-from", days[len(days) // 2], "--period",
                                    "month", "--out", str(tmp_path / "t2")], env=env)  # fmt: skip
    assert run.exit_code == 0, run.output
    assert f"{n_cards - later:,} earlier, in-sample races left out" in " ".join(run.output.split())  # rich wraps
    assert json.loads((tmp_path / "t2" / "report.json").read_text())["overall"]["model"]["n_races"] == later < n_cards


def _compare(served: pd.DataFrame, offline: pd.DataFrame) -> None:
    key = ["race_id", "runner_id"]
    assert served[key].equals(offline[key])
    for col in ("final_prob", "sqpe_prob", "tie_intent", "nds_signal", "market_prob", "stake_fraction", "price_pre",
                "won", "price_final"):  # fmt: skip
        a, b = served[col].to_numpy(dtype=float), offline[col].to_numpy(dtype=float)
        assert np.array_equal(np.isnan(a), np.isnan(b)), col
        if not np.isnan(a).all():
            assert np.nanmax(np.abs(a - b)) <= 1e-9, f"{col} differs by {np.nanmax(np.abs(a - b))}"


def test_cards_hours_ahead_are_predicted_again_as_the_market_forms_and_equal_offline_for_each_choice(
    worker: RunningWorker, model_dirs
) -> None:
    """The cards go out two hours before the off, with no prices; the market
    updates follow at their real times, interleaved across races, and each
    race is predicted again as its market moves and at its checkpoints. The
    served backtest equals the offline one for every choice of prediction."""
    from datetime import timedelta

    from velo.features.redis_store import RedisStore

    events = simulate(SimConfig(seed=65, days=6, n_horses=150)).events(card_lead=timedelta(hours=2))
    RedisStore.from_url(worker.settings.redis_url).clear()  # the first replay's horses share these ids
    summary = asyncio.run(replay(events, worker.settings, group=worker_group("velo"), timeout_s=90))
    races = {e.key for e in events if e.kind == "card"}
    assert summary.cards == len(races)
    preds, results = _served(worker, len(races))
    preds = [p for p in preds if p.race_id in races]
    by_race: dict[str, list[Prediction]] = {}
    for p in preds:
        by_race.setdefault(p.race_id, []).append(p)
    assert set(by_race) == races
    for race, ps in by_race.items():
        seqs = sorted({p.sequence for p in ps})
        assert seqs == list(range(len(seqs))), race
        triggers = {p.trigger for p in ps}
        assert {"card", "market", "checkpoint"} <= triggers, (race, triggers)
        assert sum(p.final for p in ps) >= 1 and max(ps, key=lambda p: p.sequence).final
    model = load_model(model_dirs[0])
    for choice in ("last", "first", "120.0"):
        served, counts = scored.from_messages(preds, results, choice)
        assert counts["races_with_result"] == len(races), (choice, counts)
        _compare(served, scored.offline(model, events, choice=choice))
    first, _ = scored.from_messages(preds, results, "first")
    assert first["market_prob"].isna().all() and (first["stake_fraction"] == 0).all()  # a card printed unpriced
