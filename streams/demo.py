"""The one-command demo: the whole loop on the embedded stack.

Train a champion and a challenger on the first part of a history, register
them, start a worker, replay the whole history through Kafka (the earlier days
build the feature store the way live racing would), show the last meeting's
predictions as they arrive, then score the races the models never saw,
against the market, from the topics.

The cards go out two hours before their races, before the market forms, as
racing's do; the worker predicts each race again as its market moves and at
checkpoints before the off. One race is followed a line a prediction, and
every shown race's final prediction (at decision-time prices, the one with
stakes) is printed as a table.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import cast

import pandas as pd
from aiokafka import AIOKafkaConsumer
from rich.console import Console
from rich.table import Table

from schemas import Prediction, RaceCard, RaceResult
from streams.app import worker_group
from streams.embedded import start_embedded_stack
from streams.replay import replay
from streams.security import kafka_options
from streams.topic_reader import read_topic
from streams.worker_process import start_worker, wait_healthy
from velo.backtest import scored
from velo.config import Settings
from velo.data.sources import Dataset
from velo.features.offline import build_training_set
from velo.mlops.first_models import register_first_models
from velo.registry import Registry
from velo.registry.record import ModelRecord

#: SQPE's calibration folds and 300-runner leaves need this much history
MIN_TRAIN_RACES = 80
#: how long before the off the demo publishes each card
CARD_LEAD = timedelta(hours=2)


@dataclass
class DemoConfig:
    #: share of the race days used for training; the rest is out of sample
    train_share: float = 0.7
    #: boosting rounds (the demo must run in under two minutes on two cores)
    sqpe_iterations: int = 120
    worker_start_timeout_s: float = 150.0


def _step(console: Console, text: str, t0: float) -> None:
    console.print(f"[dim]{time.perf_counter() - t0:6.1f}s[/] {text}")


def race_table(card: RaceCard, pred: Prediction) -> Table:
    names = {r.runner_id: r.name or r.runner_id for r in card.runners}
    t = Table(
        title=f"{card.race.course} {card.race.distance_m}m, off {card.race.off_time:%Y-%m-%d %H:%M} UTC "
        f"[dim]({pred.model_name} v{pred.model_version}, {pred.request_id})[/]",
        title_justify="left",
    )
    for col, just in (
        ("runner", "left"),
        ("price", "right"),
        ("market p", "right"),
        ("final p", "right"),
        ("edge", "right"),
        ("recommendation", "left"),
    ):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in sorted(pred.runners, key=lambda r: -r.final_prob):
        edge = "" if r.market_prob is None else f"{r.final_prob - r.market_prob:+.3f}"
        rec = r.recommendation
        t.add_row(
            names.get(r.runner_id, r.runner_id),
            "" if r.price is None else f"{r.price:.2f}",
            "" if r.market_prob is None else f"{r.market_prob:.3f}",
            f"{r.final_prob:.3f}",
            edge,
            f"[green]back {rec.stake_fraction:.1%} of bank[/]" if rec.side == "back" else "-",
        )
    return t


def moving_line(card: RaceCard, pred: Prediction) -> str:
    """One prediction of the followed race: what made it, when its market
    is from, and the three highest probabilities with their market's."""
    names = {r.runner_id: r.name or r.runner_id for r in card.runners}
    top = sorted(pred.runners, key=lambda r: -r.final_prob)[:3]
    at = "no market yet" if pred.market_time is None else f"market {pred.market_time:%H:%M:%S}"
    shown = ", ".join(
        f"{names.get(r.runner_id, r.runner_id)} {r.final_prob:.3f}"
        + ("" if r.market_prob is None else f" (mkt {r.market_prob:.3f})")
        for r in top
    )
    flag = " [bold]final[/]" if pred.final else ""
    return f"  #{pred.sequence:<2} {pred.trigger:<10} {at:<16} {shown}{flag}"


async def _watch(
    settings: Settings,
    show: dict[str, RaceCard],
    expected: int,
    console: Console,
    seen: dict[str, Prediction],
    done: asyncio.Event,
    follow: str | None = None,
) -> None:
    """Print each shown race's final prediction as a table as it arrives,
    and every prediction of the race ``follow`` as a line. ``seen`` keeps
    each race's latest prediction; a race is done at its final one."""
    consumer = AIOKafkaConsumer(
        settings.topic_predictions,
        bootstrap_servers=settings.bootstrap_servers,
        group_id=f"velo-demo-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        fetch_max_wait_ms=20,
        **kafka_options(settings),
    )
    ids: set[str] = set()
    finals: set[str] = set()
    # finals arrive in partition order; the shown races are printed in off-time order
    order = sorted(show, key=lambda r: (show[r].race.off_time, r))
    held: dict[str, Prediction] = {}
    await consumer.start()
    try:
        while len(finals) < expected and not done.is_set():
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for rec in records:
                    pred = Prediction.decode(rec.value)
                    if pred.request_id in ids:
                        continue  # a redelivery: same request_id, shown once
                    ids.add(pred.request_id)
                    if pred.race_id not in seen or pred.sequence > seen[pred.race_id].sequence:
                        seen[pred.race_id] = pred
                    if pred.race_id == follow:
                        if pred.sequence == 0:
                            card = show[follow]
                            console.print(
                                f"following {card.race.course} {card.race.distance_m}m, off "
                                f"{card.race.off_time:%H:%M} UTC: a line per prediction"
                            )
                        console.print(moving_line(show[follow], pred))
                    if pred.final:
                        finals.add(pred.race_id)
                        if pred.race_id in show:
                            held[pred.race_id] = pred
                            while order and order[0] in held:
                                race = order.pop(0)
                                console.print(race_table(show[race], held.pop(race)))
    finally:
        await consumer.stop()


async def _replay_and_watch(
    dataset_events: list, settings: Settings, show: dict[str, RaceCard], n_cards: int, console: Console
) -> tuple[dict, dict[str, Prediction]]:
    seen: dict[str, Prediction] = {}
    done = asyncio.Event()
    follow = min(show, key=lambda r: show[r].race.off_time) if show else None
    watcher = asyncio.create_task(_watch(settings, show, n_cards, console, seen, done, follow))
    summary = await replay(dataset_events, settings, group=worker_group("velo"), timeout_s=120)
    try:
        await asyncio.wait_for(asyncio.shield(watcher), 30)
    except TimeoutError:
        done.set()
        await watcher
    return summary.as_dict(), seen


def run_demo(dataset: Dataset, console: Console, config: DemoConfig | None = None) -> dict:
    """Returns the out-of-sample report; prints everything on the way."""
    config = config or DemoConfig()
    t0 = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="velo-demo-"))
    events = dataset.events(card_lead=CARD_LEAD)
    cards = [cast(RaceCard, e.message) for e in events if e.kind == "card"]
    days = sorted({c.race.off_time.date() for c in cards})
    if len(days) < 3:
        raise ValueError(f"the demo needs at least 3 race days; the data has {len(days)}")
    split_day = days[max(1, int(len(days) * config.train_share))]
    cutoff = pd.Timestamp(split_day, tz="UTC")
    span = (days[-1] - days[0]).days + 1
    _step(
        console,
        f"{len(cards)} races on {len(days)} race days over {span} calendar days; training on days "
        f"before {split_day}, the rest is out of sample",
        t0,
    )

    with console.status("starting the embedded broker (Tansu) and Redis"):
        stack = start_embedded_stack(Settings(), 0, 0)
    worker = None
    try:
        settings = stack.settings(registry_dir=workdir / "models", log_dir=workdir / "logs")
        _step(console, f"embedded stack up: broker {settings.bootstrap_servers}, redis {settings.redis_url}", t0)
        # imports and joins the group while we train; cards wait for the champion
        worker, port = start_worker(settings, workdir, "--wait-for-model")
        frame = build_training_set(events)
        train = frame[frame["off_time"] < cutoff]
        if train["race_id"].nunique() < MIN_TRAIN_RACES:
            raise ValueError(
                f"the demo needs at least {MIN_TRAIN_RACES} races to train on; "
                f"these data give {train['race_id'].nunique()} before {split_day}"
            )
        registry = Registry(settings.registry_dir)
        status = console.status(f"training the champion on {train['race_id'].nunique()} races")
        status.start()

        def registered(role: str, iters: int, record: ModelRecord) -> None:
            _step(console, f"trained and registered the {role}: velo v{record.version} ({iters} boosting rounds)", t0)
            status.update(f"training the challenger on {train['race_id'].nunique()} races")

        try:
            champion, challenger = register_first_models(
                registry, train, workdir, config.sqpe_iterations, on_registered=registered
            )
        finally:
            status.stop()
        _step(
            console,
            f"champion v{champion.version}, challenger v{challenger.version} (shadow: logged, never emitted)",
            t0,
        )
        with console.status("waiting for the worker to load its models"):
            wait_healthy(worker, port, config.worker_start_timeout_s)
        _step(console, f"worker healthy on http://127.0.0.1:{port}/health", t0)

        last_day = days[-1]
        show = {c.race_id: c for c in cards if c.race.off_time.date() == last_day}
        _step(
            console,
            f"replaying {len(events):,} events; the {len(show)} races of {last_day} are shown as their "
            "predictions arrive",
            t0,
        )
        summary, seen = asyncio.run(_replay_and_watch(events, settings, show, len(cards), console))
        _step(
            console,
            f"replayed {summary['events']:,} events over {summary['days']} race days in "
            f"{summary['seconds']:.1f}s ({summary['events_per_s']:,.0f} events/s); "
            f"{len(seen)}/{len(cards)} races predicted",
            t0,
        )

        preds = asyncio.run(read_topic(settings, settings.topic_predictions, Prediction))
        results = asyncio.run(read_topic(settings, settings.topic_race_results, RaceResult))
        served, _ = scored.from_messages(preds, results)
        test = served[served["off_time"] >= cutoff]
        report = scored.report(test, "month")
        report["data"] = {"source": dataset.report.source, "test_from": str(split_day), "replay": summary}
        _step(console, f"scored {test['race_id'].nunique()} out-of-sample races from the topics", t0)
        return report
    finally:
        if worker is not None:
            worker.stop(10)
        stack.stop()
        _step(console, f"worker and embedded stack stopped (files in {workdir})", t0)
