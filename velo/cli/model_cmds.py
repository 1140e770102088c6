"""``velo train``, ``velo backtest`` and ``velo explain``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import pandas as pd

from velo.cli.dates import iso_date
from velo.cli.options import JSON_OPTION
from velo.features.definitions import SQPE_FEATURES
from velo.markets.repredict import CHOICES_HELP, parse_choice

if TYPE_CHECKING:
    from velo.engines.model import VeloModel
    from velo.registry.refs import ModelRef
    from velo.training.run import TrainResult


#: How every command that loads a model names it (see velo.registry.refs).
MODEL_REF_HELP = "NAME (its champion), NAME@challenger, NAME/VERSION, or a folder written by velo train"


def _model_ref(text: str) -> ModelRef:
    """The model ``--model`` names, or a usage error that says what was tried."""
    from velo.config import Settings
    from velo.registry import Registry, RegistryError
    from velo.registry.refs import resolve

    try:
        return resolve(text, Registry(Settings().registry_dir))
    except RegistryError as exc:
        raise click.BadParameter(str(exc), param_hint="--model") from None


def _load(ref: ModelRef) -> VeloModel:
    from velo.config import Settings
    from velo.registry import Registry

    return ref.load(Registry(Settings().registry_dir))


@click.command()
@click.option(
    "--data",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="canonical CSV/Parquet (see velo data convert)",
)
@click.option("--until", help="train on races before this date (YYYY-MM-DD); default: all")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--cv-splits", type=click.IntRange(2, 20), default=4, show_default=True)
@click.option("--name", default="velo", show_default=True)
@click.option(
    "--sqpe-iterations",
    type=click.IntRange(10, 5000),
    default=300,
    show_default=True,
    help="boosting rounds of SQPE (fewer: faster, less accurate)",
)
@JSON_OPTION
def train(
    data: Path, until: str | None, out: Path, cv_splits: int, name: str, sqpe_iterations: int, as_json: bool
) -> None:
    """Train SQPE, TIE and the orchestrator; write artifacts, metrics and metadata."""
    from velo.training.run import NothingToTrain, train_and_save

    cutoff = iso_date(until, "--until")
    try:
        result = train_and_save(
            data,
            out,
            cutoff=cutoff,
            trained_until=until,
            cv_splits=cv_splits,
            name=name,
            sqpe_iterations=sqpe_iterations,
            progress=True,
        )
    except NothingToTrain as exc:
        raise click.ClickException(str(exc)) from None
    echo_trained(result, as_json)


def echo_trained(result: TrainResult, as_json: bool = False) -> None:
    """What ``velo train`` prints (also after ``velo monitor --retrain-data``)."""
    from velo.monitoring.drift import REFERENCE_FILE

    if as_json:
        doc = {
            "out": str(result.out),
            "runners": result.runners,
            "races": result.races,
            "cv_sqpe_pseudo_r2": result.cv_sqpe_pseudo_r2,
            "cv": result.cv,
            "metadata": result.metadata,
        }
        click.echo(json.dumps(doc, indent=2, default=str))
        return
    click.echo(
        f"trained on {result.runners:,} runners ({result.races:,} races); "
        f"CV SQPE pseudo-R² {result.cv_sqpe_pseudo_r2:.4f} over {len(result.cv)} folds"
    )
    click.echo(f"orchestrator: {json.dumps(result.orchestrator)}")
    files = f"sqpe.skops, tie.skops, model.json, metadata.json, metrics.json, {REFERENCE_FILE}"
    click.echo(f"wrote {result.out}/ ({files})")


def _choice(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        return parse_choice(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command()
@click.option(
    "--data",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="canonical file (walk-forward, or with --model)",
)
@click.option(
    "--test-from",
    help="first test date (YYYY-MM-DD); with --from-topics, default: where the served "
    "model's training data ends (earlier races are in-sample and left out)",
)
@click.option("--test-until", help="end of the test window (exclusive)")
@click.option("--period", type=click.Choice(["season", "month", "year"]), default="season", show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--permute-labels", type=int, default=None, help="leakage check: shuffle training winners (seed)")
@click.option("--sqpe-iterations", type=click.IntRange(10, 5000), default=300, show_default=True)
@click.option(
    "--from-topics",
    is_flag=True,
    help="score the predictions the workers served: read the predictions and results topics",
)
@click.option(
    "--model",
    "model_ref",
    help=f"score this fixed model on --data offline (what a replay through workers should give): {MODEL_REF_HELP}",
)
@click.option(
    "--choose",
    "choice",
    default="last",
    show_default=True,
    callback=_choice,
    help=f"which of a race's predictions to score with --from-topics or --model: {CHOICES_HELP}",
)
@click.option(
    "--commission",
    type=click.FloatRange(0, 0.5),
    default=0.05,
    show_default=True,
    help="the exchange's share of each race's net winnings, in ROI and P&L (walk-forward: also in the "
    "staking rule); 0 for tote or bookmaker prices",
)
@JSON_OPTION
def backtest(
    data: Path | None,
    test_from: str | None,
    test_until: str | None,
    period: str,
    out: Path,
    permute_labels: int | None,
    sqpe_iterations: int,
    from_topics: bool,
    model_ref: str | None,
    choice: str,
    commission: float,
    as_json: bool,
) -> None:
    """Walk-forward (retrain each period on earlier data only, predict it), or
    score served predictions (--from-topics) or a fixed model (--model).

    A race is predicted again as its market moves and at checkpoints before
    the off; --choose picks the one scored: by default the last before the
    off (the final one, at decision-time prices, the only one with stakes)."""
    from rich.console import Console

    from velo.backtest.report import render, write_report

    console = Console(stderr=as_json)  # with --json, stdout holds the report alone
    if from_topics and model_ref:
        raise click.UsageError("use either --from-topics or --model, not both")
    if from_topics or model_ref:
        ref = _model_ref(model_ref) if model_ref else None
        report = _served_report(
            data, period, from_topics, ref, console, choice, iso_date(test_from, "--test-from"), commission
        )
    else:
        report = _walk_forward_report(
            data, test_from, test_until, period, permute_labels, sqpe_iterations, console, commission
        )
    files = write_report(report, out)
    if as_json:  # the report as written, for scripts
        click.echo(files[0].read_text())
        return
    render(report, console)
    console.print("wrote " + ", ".join(str(f) for f in files))


def _training_end(preds: list, settings: Any) -> tuple[pd.Timestamp | None, str]:
    """Where the served models' training data ends (the latest over the
    versions that served), from the registry's records; None if unknown."""
    from velo.registry import Registry, RegistryError

    registry, ends = Registry(settings.registry_dir), []
    for name, version in sorted({(p.model_name, p.model_version) for p in preds}):
        try:
            to = registry.get(name, version).data_range.get("to")
        except RegistryError:
            return None, ""
        if not to:
            return None, ""
        ends.append((iso_date(to, "data_range.to"), f"{name} v{version}"))
    if not ends:
        return None, ""
    end, who = max(ends)
    return end, f"where {who}'s training data ends"


def _served_report(
    data: Path | None,
    period: str,
    from_topics: bool,
    ref: ModelRef | None,
    console,
    choice: str = "last",
    test_from: pd.Timestamp | None = None,
    commission: float = 0.05,
) -> dict:
    from velo.backtest import scored

    if from_topics:
        import asyncio

        from schemas import Prediction, RaceResult
        from streams.topic_reader import read_topic
        from velo.config import Settings

        settings = Settings()
        bad: list[str] = []

        def note(topic: str):
            return lambda part, offset, exc: bad.append(f"{topic}[{part}]@{offset}: {exc}")

        async def read() -> tuple[list, list]:
            preds = await read_topic(
                settings, settings.topic_predictions, Prediction, on_error=note(settings.topic_predictions)
            )
            results = await read_topic(
                settings, settings.topic_race_results, RaceResult, on_error=note(settings.topic_race_results)
            )
            return preds, results

        try:
            preds, results = asyncio.run(read())
        except (LookupError, TimeoutError) as exc:
            raise click.ClickException(str(exc)) from None
        for line in bad[:5]:
            console.print(f"[yellow]skipped an invalid message[/] {line}")
        frame, counts = scored.from_messages(preds, results, choice)
        console.print(
            f"read {len(preds):,} predictions and {len(results):,} results: "
            f"{counts['races_with_result']:,} races with a result, {counts['races_without_result']:,} "
            "still without one"
        )
        start, why = (test_from, "--test-from") if test_from is not None else _training_end(preds, settings)
        if start is None:
            console.print(
                "[yellow]the served models' training data is not recorded in the registry, so every race "
                "is scored, and some may be in-sample: pass --test-from to score only races they never "
                "saw[/]"
            )
        else:
            early = frame["off_time"] < start
            n_early = frame.loc[early, "race_id"].nunique()
            console.print(
                f"scoring races from {start:%Y-%m-%d %H:%M} UTC on ({why}): {n_early:,} earlier, "
                "in-sample races left out"
            )
            frame = frame[~early]
        counts["test_from"] = None if start is None else start.isoformat()
        source = {"from_topics": settings.bootstrap_servers, **counts, "invalid_messages": len(bad)}
    else:
        from velo.config import Settings
        from velo.data.sources import load_dataset

        if data is None:
            raise click.BadParameter("--model needs --data", param_hint="--data")
        assert ref is not None
        frame = scored.offline(
            _load(ref), load_dataset("canonical", data).events(), Settings().repredict_policy, choice
        )
        if test_from is not None:
            frame = frame[frame["off_time"] >= test_from]
        source = {
            "model": ref.label,
            "data": str(data),
            "test_from": None if test_from is None else test_from.isoformat(),
        }
    try:
        report = scored.report(frame, period, commission)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    report["data"] = source
    report["settings"]["prediction_chosen"] = choice
    return report


def _walk_forward_report(
    data: Path | None,
    test_from: str | None,
    test_until: str | None,
    period: str,
    permute_labels: int | None,
    sqpe_iterations: int,
    console,
    commission: float = 0.05,
) -> dict:
    from velo.backtest.walkforward import walk_forward
    from velo.engines.staking import Staking
    from velo.training.dataset import load_training_frame
    from velo.training.pipeline import TrainConfig

    if data is None:
        raise click.BadParameter("walk-forward needs --data (or use --from-topics / --model)", param_hint="--data")
    if test_from is None:
        raise click.BadParameter("walk-forward needs --test-from", param_hint="--test-from")
    frame, provenance = load_training_frame(data, progress=True)
    start, end = iso_date(test_from, "--test-from"), iso_date(test_until, "--test-until")

    def progress(p: str, rep: dict) -> None:
        console.print(f"period {p}: {rep['model']['n_races']} races, model R² {rep['model']['pseudo_r2']:.4f}")

    try:
        config = TrainConfig(sqpe_max_iter=sqpe_iterations, staking=Staking(commission=commission))
        report, _ = walk_forward(
            frame, start, end, period, config, permute_labels_seed=permute_labels, on_period=progress
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    report["data"] = provenance
    return report


def _runner_names(data: Path, race_id: str) -> dict[str, str]:
    """Runner id -> horse name for one race of a canonical file (none if the file has no names)."""
    from velo.data.sources import load_dataset

    frame = load_dataset("canonical", data).canonical
    if "horse_name" not in frame:
        return {}
    race = frame[frame["race_id"] == race_id]
    return {str(k): str(v) for k, v in zip(race["runner_id"], race["horse_name"], strict=True) if isinstance(v, str)}


@click.command()
@click.option("--model", "model_ref", required=True, help=MODEL_REF_HELP)
@click.option("--data", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--race", "race_id", help="race to explain (default: the last race in the data)")
@click.option("--top", type=click.IntRange(1, len(SQPE_FEATURES)), default=3, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="also write importance.png here")
def explain(model_ref: str, data: Path, race_id: str | None, top: int, out: Path | None) -> None:
    """SHAP explanations: per-runner top contributions, and a global importance plot."""
    import time

    from rich.console import Console
    from rich.table import Table

    from velo.explain.shap_explain import global_importance, plot_importance, top_contributions
    from velo.training.dataset import load_training_frame

    ref = _model_ref(model_ref)
    model = _load(ref)
    frame, _ = load_training_frame(data)
    race_id = race_id or frame.sort_values("off_time")["race_id"].iloc[-1]
    race = frame[frame["race_id"] == race_id]
    if race.empty:
        raise click.BadParameter(f"race {race_id!r} is not in {data}", param_hint="--race")
    t = time.perf_counter()
    rows = top_contributions(model.sqpe, race, top)
    ms = (time.perf_counter() - t) * 1000
    pred = model.predict_frame(race).set_index("runner_id")
    table = Table(title=f"Race {race_id}: top {top} SHAP contributions (log-odds), {ms:.0f} ms")
    names = _runner_names(data, race_id)
    table.add_column("runner")
    table.add_column("SQPE p", justify="right")
    table.add_column("contributions")
    for r in rows:
        parts = ", ".join(f"{c['feature']}={c['value']:.3g} ({c['shap']:+.3f})" for c in r["contributions"])
        who = f"{names[r['runner_id']]} ({r['runner_id']})" if names.get(r["runner_id"]) else r["runner_id"]
        table.add_row(who, f"{pred.loc[r['runner_id'], 'sqpe_prob']:.3f}", parts)
    Console().print(table)
    if out:
        days = frame["off_time"]
        context = (
            f"model {ref.label}; {frame['race_id'].nunique():,} races of {data.name}, "
            f"{days.min():%Y-%m-%d} to {days.max():%Y-%m-%d}"
        )
        path = plot_importance(global_importance(model.sqpe, frame), out / "importance.png", context=context)
        click.echo(f"wrote {path}")
