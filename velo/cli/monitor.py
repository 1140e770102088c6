"""``velo monitor``: feature drift and live quality of a registered model.

Feature values of recent races are computed offline from a canonical data
file (``--data``) by the same code the stream uses, and compared with the
reference saved when the model was trained. Live quality comes from the
labelled prediction log. Any breached threshold prints an ALERT line and
makes the command exit with status 1, so a scheduler can react; with
``--retrain-data`` the command itself trains a new challenger. Live quality
says how many races it used and how many predicted races still lack an
outcome, so a quiet monitor on a log without results is visibly so.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from velo.cli.dates import iso_date
from velo.cli.options import JSON_OPTION
from velo.config import Settings
from velo.metrics import json_safe


@click.command()
@click.argument("name", metavar="MODEL")
@click.option("--version", "version", help="monitor this version (default: the registry's champion)")
@click.option(
    "--data",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="canonical CSV/Parquet with the recent races: feature drift is computed on them",
)
@click.option("--since", help="first day of live races in --data (default: after the model's training data ends)")
@click.option("--until", help="end of live races in --data (exclusive)")
@click.option(
    "--log-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="prediction log for live quality (default: VELO_LOG_DIR)",
)
@click.option("--window", type=click.IntRange(10), default=200, show_default=True, help="races per quality window")
@click.option("--psi-alert", type=click.FloatRange(0.0), default=0.2, show_default=True)
@click.option(
    "--trend-factor",
    type=click.FloatRange(1.0),
    default=2.0,
    show_default=True,
    help="a feature also has to exceed this multiple of its drift within training",
)
@click.option("--ece-alert", type=click.FloatRange(0.0), default=0.05, show_default=True)
@click.option(
    "--vs-market",
    type=float,
    default=0.0,
    show_default=True,
    help="alert when worse than the market by more than this (nats/race, 95% confidence)",
)
@click.option("--logloss-alert", type=click.FloatRange(0.0), default=None, help="absolute log-loss ceiling")
@click.option(
    "--min-races",
    type=click.IntRange(1),
    default=100,
    show_default=True,
    help="labelled races a quality window needs before it may alert",
)
@click.option(
    "--metrics-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="also write the figures as Prometheus text (node-exporter textfile collector)",
)
@JSON_OPTION
@click.option("--all", "show_all", is_flag=True, help="list every input, not only those with PSI >= 0.1")
@click.option(
    "--retrain-data",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="on an alert, train a new model on this file and register it as the challenger",
)
@click.option("--retrain-until", help="train on races before this date (default: all of --retrain-data)")
@click.option(
    "--sqpe-iterations",
    type=click.IntRange(10, 5000),
    default=300,
    show_default=True,
    help="boosting rounds of the retrained SQPE",
)
@click.option("--no-publish", is_flag=True, help="register the retrained challenger without contacting Kafka")
@click.pass_context
def monitor(
    ctx: click.Context,
    name: str,
    version: str | None,
    data: Path | None,
    since: str | None,
    until: str | None,
    log_dir: Path | None,
    window: int,
    psi_alert: float,
    trend_factor: float,
    ece_alert: float,
    vs_market: float,
    logloss_alert: float | None,
    min_races: int,
    metrics_out: Path | None,
    as_json: bool,
    show_all: bool,
    retrain_data: Path | None,
    retrain_until: str | None,
    sqpe_iterations: int,
    no_publish: bool,
) -> None:
    """Feature drift (PSI per input) and live log-loss/calibration; ALERT lines and exit 1 on a breach.

    MODEL is NAME (its champion), NAME@challenger or NAME/VERSION."""
    from velo.monitoring.drift import Thresholds, quality_alerts
    from velo.registry import Registry, RegistryError
    from velo.registry.refs import resolve

    settings = Settings()
    try:
        reg = Registry(settings.registry_dir)
        if version is None and ("@" in name or "/" in name):  # velo@challenger, velo/3: the CLI's model references
            ref = resolve(name, reg)
            if ref.name is None:
                raise RegistryError(
                    f"{name} is a folder; monitor reads a registered model's prediction log: register "
                    f"it first (`velo models register NAME --from {name}`)"
                )
            name, version = ref.name, ref.version
        rec = reg.get(name, version) if version else reg.champion(name)
    except (RegistryError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    if rec is None:
        raise click.ClickException(f"{name} has no champion in {reg.root}; name a version with --version")
    th = Thresholds(
        psi=psi_alert,
        trend_factor=trend_factor,
        ece=ece_alert,
        vs_market=vs_market,
        logloss=logloss_alert,
        min_races=min_races,
    )
    drift = _feature_drift(reg, rec, data, since, until, th) if data else None
    quality, coverage = _quality(reg, name, rec, log_dir or settings.log_dir, window)
    if drift is None and not quality:
        waiting = coverage.get("races_without_outcome", 0)
        raise click.ClickException(
            f"nothing to monitor for {name} v{rec.version}: no labelled races in {log_dir or settings.log_dir} "
            f"({waiting:,} predicted races had no outcome yet) and no --data FILE for feature drift"
        )
    alerts = list(drift["alerts"]) if drift else []
    for q in quality.values():
        alerts += quality_alerts(q, th)
    if metrics_out:
        _write_metrics(metrics_out, drift, quality, alerts)
    if as_json:
        click.echo(
            json.dumps(
                json_safe(
                    {
                        "model": name,
                        "version": rec.version,
                        "drift": {k: v for k, v in (drift or {}).items() if k != "alerts"} or None,
                        "quality": {k: vars(v) for k, v in quality.items()},
                        "coverage": coverage or None,
                        "alerts": [a.to_dict() for a in alerts],
                    }
                ),
                indent=2,
            )
        )
    else:
        _render(name, rec.version, drift, quality, th, show_all)
        _render_coverage(coverage)
    for a in alerts:
        click.echo(f"ALERT {a.message}", err=as_json)
    if not alerts:
        if not as_json:
            click.echo(f"no alerts for {name} v{rec.version}")
        return
    if retrain_data:
        _retrain(reg, name, retrain_data, retrain_until, sqpe_iterations, no_publish)
    ctx.exit(1)


def _feature_drift(reg, rec, data: Path, since: str | None, until: str | None, th) -> dict[str, Any]:
    from velo.monitoring.drift import REFERENCE_FILE, FeatureReference
    from velo.training.dataset import load_training_frame

    path = reg.root / rec.name / rec.version / REFERENCE_FILE
    if not path.exists():
        raise click.ClickException(
            f"no drift reference for {rec.name} v{rec.version} ({path}): the model was "
            "trained before `velo train` wrote reference.json; retrain it, or monitor "
            "live quality only (drop --data)"
        )
    ref = FeatureReference.load(path)
    start = iso_date(since, "--since")
    if start is None:
        trained_to = rec.data_range.get("to")
        if not trained_to:
            raise click.ClickException(f"{rec.name} v{rec.version} records no training end date; give --since")
        start = iso_date(trained_to, "--since")
    end = iso_date(until, "--until")
    frame, _ = load_training_frame(data)
    live = frame[(frame["off_time"] > start) & ((frame["off_time"] < end) if end is not None else True)]
    if live.empty:
        span = f"{frame['off_time'].min():%Y-%m-%d}..{frame['off_time'].max():%Y-%m-%d}" if len(frame) else "empty"
        raise click.ClickException(
            f"no races in {data} after {start:%Y-%m-%d %H:%M}"
            + (f" and before {end:%Y-%m-%d}" if end is not None else "")
            + f" (the file covers {span}); set --since/--until"
        )
    missing = [c for c in ref.names if c not in live]
    if missing:
        raise click.ClickException(f"{data} lacks model inputs the reference has: {', '.join(missing)}")
    psi = ref.psi(live[ref.names].to_numpy(dtype=float))
    return {
        "reference": ref.window,
        "runners": len(live),
        "races": int(live["race_id"].nunique()),
        "from": str(live["off_time"].min()),
        "to": str(live["off_time"].max()),
        "psi": dict(zip(ref.names, psi.tolist(), strict=True)),
        "baseline": dict(zip(ref.names, ref.baseline_psi.tolist(), strict=True)),
        "alerts": ref.alerts(psi, th),
    }


def _quality(reg, name: str, rec, log_dir: Path, window: int) -> tuple[dict, dict[str, Any]]:
    """Quality windows per role, and per role the races used and the predicted races without an outcome."""
    from velo.mlops.labelled import read_labelled_with_coverage
    from velo.monitoring.drift import quality_window

    if not Path(log_dir).is_dir():
        return {}, {}
    frame, cov = read_labelled_with_coverage(log_dir, name)
    out, roles = {}, {}
    chall = reg.challenger(name)
    for role, r in (("champion", rec), ("challenger", chall)):
        if r is None:
            continue
        rows = frame[frame["model_version"] == r.version]
        q = quality_window(rows, role, r.version, window) if len(rows) else None
        if q is not None:
            out[role] = q
        roles[role] = {"version": r.version, **cov.to_dict([r.version], used=q.races if q is not None else 0)}
    waiting = cov.without_outcome(c["version"] for c in roles.values())  # distinct races, not a sum over roles
    return out, {"roles": roles, "races_without_outcome": waiting, "duplicate_rows": cov.duplicate_rows}


def _render(name: str, version: str, drift: dict | None, quality: dict, th, show_all: bool) -> None:
    console = Console()
    if drift:
        ref = drift["reference"]
        t = Table(
            title=f"Feature drift of {name} v{version}: {drift['races']} races ({drift['runners']} runners) "
            f"{drift['from'][:10]}..{drift['to'][:10]} against the reference "
            f"{ref.get('from', '?')[:10]}..{ref.get('to', '?')[:10]}"
        )
        for col in ("feature", "PSI", "within training", "alerts above", "status"):
            t.add_column(col, justify="left" if col in ("feature", "status") else "right")
        flagged = {a.subject for a in drift["alerts"]}
        rows = sorted(drift["psi"].items(), key=lambda kv: -kv[1])
        shown = rows if show_all else [(f, v) for f, v in rows if v >= 0.1 or f in flagged]
        for feat, value in shown:
            base = drift["baseline"][feat]
            limit = max(th.psi, th.trend_factor * base)
            status = "ALERT" if feat in flagged else ("trend" if value > th.psi else "ok")
            t.add_row(
                feat,
                f"{value:.3f}",
                f"{base:.3f}",
                f"{limit:.3f}",
                status,
                style="bold red" if feat in flagged else None,
            )
        console.print(t)
        if len(shown) < len(rows):
            console.print(f"{len(rows) - len(shown)} more inputs with PSI < 0.10 (--all shows them)")
        console.print("status trend: above the threshold, but within the drift the feature had in training")
    if quality:
        t = Table(title="Live quality (last labelled races per role)")
        for col in ("role", "version", "races", "log-loss", "market log-loss", "model − market", "95% lower", "ECE"):
            t.add_column(col, justify="left" if col == "role" else "right")
        for role, q in quality.items():
            t.add_row(
                role,
                q.version,
                str(q.races),
                f"{q.logloss:.4f}",
                _f(q.market_logloss),
                _f(q.vs_market, "+"),
                _f(q.vs_market_lower, "+"),
                f"{q.ece:.4f}",
            )
        console.print(t)


def _render_coverage(coverage: dict[str, Any]) -> None:
    from velo.mlops.labelled import coverage_line

    for role, c in coverage.get("roles", {}).items():
        of = f" (of {c['races_with_outcome']:,} in the log)" if c["races_with_outcome"] != c["races_used"] else ""
        click.echo(f"{role} v{c['version']}: " + coverage_line(c["races_used"], c["races_without_outcome"]) + of)
    if coverage.get("duplicate_rows"):
        click.echo(f"{coverage['duplicate_rows']:,} repeated log rows counted once")


def _f(x: float, sign: str = "") -> str:
    return "–" if not math.isfinite(x) else f"{x:{sign}.4f}"


def _write_metrics(path: Path, drift: dict | None, quality: dict, alerts: list) -> None:
    from prometheus_client import CollectorRegistry, write_to_textfile

    from velo.monitoring.prom import drift_gauges

    registry = CollectorRegistry()
    drift_gauges(registry).export(drift["psi"] if drift else {}, quality, alerts, drift["runners"] if drift else 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), registry)


def _retrain(reg, name: str, data: Path, until: str | None, iterations: int, no_publish: bool) -> None:
    """Train on ``data``, register the result and make it the challenger (the champion keeps serving)."""
    from velo.cli.model_cmds import echo_trained
    from velo.cli.publishing import publish_pending
    from velo.mlops.retrain import retrain_as_challenger
    from velo.registry import RegistryError
    from velo.training.run import NothingToTrain

    click.echo(f"retraining {name} on {data} after the alert")
    cutoff = iso_date(until, "--retrain-until")
    try:
        result, rec = retrain_as_challenger(
            reg, name, data, cutoff=cutoff, trained_until=until, sqpe_iterations=iterations, progress=True
        )
    except (NothingToTrain, RegistryError) as exc:
        raise click.ClickException(str(exc)) from None
    echo_trained(result)
    click.echo(
        f"{name} v{rec.version}: stage {rec.stage}, role {rec.role} (runs in shadow; "
        f"`velo models compare {name}` decides)"
    )
    publish_pending(reg, no_publish)
