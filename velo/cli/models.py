"""``velo models``: every registry operation, then the event broadcast.

A refused operation is one ``Error: ...`` line on stderr and exit status 1,
never a traceback: the group turns registry, artifact, log and file-system
failures into click errors in one place, so a new command cannot forget to.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from velo.cli.options import JSON_OPTION
from velo.cli.publishing import publish_pending
from velo.config import Settings
from velo.registry import Registry, RegistryError


class _RegistryGroup(click.Group):
    """A click group whose commands report expected failures as one line."""

    def invoke(self, ctx: click.Context):
        from velo.mlops.labelled import LabelledLogError

        try:
            return super().invoke(ctx)
        except (RegistryError, LabelledLogError, OSError) as exc:
            raise click.ClickException(" ".join(str(exc).split()) or type(exc).__name__) from None


def _registry() -> Registry:
    return Registry(Settings().registry_dir)


def _run(op, *args, no_publish: bool = False):
    reg = _registry()
    try:
        rec = op(reg, *args)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{rec.name} v{rec.version}: stage {rec.stage}, role {rec.role}")
    publish_pending(reg, no_publish)
    return rec


NO_PUBLISH = click.option("--no-publish", is_flag=True, help="record the change only; do not contact Kafka")


@click.group(cls=_RegistryGroup)
def models() -> None:
    """Register, compare and promote models (registry in VELO_REGISTRY_DIR)."""


@models.command()
@click.argument("name", required=False)
@click.option("--name", "name_option", hidden=True, help="the same as NAME (the older spelling)")
@click.option(
    "--from",
    "src",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="a directory written by velo train",
)
@NO_PUBLISH
def register(name: str | None, name_option: str | None, src: Path, no_publish: bool) -> None:
    """Register a trained model as the next version of NAME, in staging.

    NAME comes first, as in every other models command (`--name NAME` still works)."""
    if name is not None and name_option is not None and name != name_option:
        raise click.UsageError(f"two names given: {name!r} and --name {name_option!r}")
    name = name if name is not None else name_option
    if name is None:
        raise click.UsageError("give the model's name: velo models register NAME --from DIR")
    _run(lambda r: r.register(src, name), no_publish=no_publish)


@models.command("set-challenger")
@click.argument("name")
@click.argument("version")
@NO_PUBLISH
def set_challenger(name: str, version: str, no_publish: bool) -> None:
    """Run this staging model in shadow beside the champion."""
    _run(lambda r: r.set_challenger(name, version), no_publish=no_publish)


@models.command()
@click.argument("name")
@click.argument("version")
@NO_PUBLISH
def promote(name: str, version: str, no_publish: bool) -> None:
    """Make a staging model the champion (the previous champion is archived)."""
    _run(lambda r: r.promote(name, version), no_publish=no_publish)


@models.command()
@click.argument("name")
@click.argument("version")
@NO_PUBLISH
def demote(name: str, version: str, no_publish: bool) -> None:
    """Take the champion out of production."""
    _run(lambda r: r.demote(name, version), no_publish=no_publish)


@models.command()
@click.argument("name")
@click.argument("version")
@NO_PUBLISH
def archive(name: str, version: str, no_publish: bool) -> None:
    """Archive a model that is not the champion."""
    _run(lambda r: r.archive(name, version), no_publish=no_publish)


@models.command()
@click.argument("name")
@NO_PUBLISH
def rollback(name: str, no_publish: bool) -> None:
    """Bring back the previous champion."""
    _run(lambda r: r.rollback(name), no_publish=no_publish)


@models.command("publish")
def publish_cmd() -> None:
    """Send registry events that are still queued in the outbox."""
    publish_pending(_registry(), no_publish=False, must=True)


@models.command("list")
@click.option("--name", help="only this model name")
@JSON_OPTION
def list_cmd(name: str | None, as_json: bool) -> None:
    """Every registered version with its stage, role and provenance."""
    recs = _registry().list(name)
    if as_json:
        click.echo(json.dumps([r.model_dump() for r in recs], indent=2))
        return
    if not recs:
        click.echo(
            "no models registered"
            + (f" under {name!r}" if name else "")
            + f" in {Settings().registry_dir.resolve()} (VELO_REGISTRY_DIR)"
        )
        return
    t = Table(title=f"Model registry ({Settings().registry_dir})")
    for col in ("name", "version", "stage", "role", "trained on", "created", "sha256"):
        t.add_column(col)
    for r in recs:
        rng = f"{(r.data_range.get('from') or '?')[:10]} .. {(r.data_range.get('to') or '?')[:10]}"
        style = "bold green" if r.role == "champion" else "yellow" if r.role == "challenger" else None
        t.add_row(r.name, r.version, r.stage, r.role, rng, r.created[:19], r.artifact_sha256[:12], style=style)
    Console().print(t)


@models.command()
@click.argument("name")
@JSON_OPTION
def history(name: str, as_json: bool) -> None:
    """Who was champion when: every change to NAME, oldest first."""
    lines = _registry().history(name)
    if as_json:
        click.echo(json.dumps(lines, indent=2))
        return
    if not lines:
        raise click.ClickException(f"no history for {name!r}")
    t = Table(title=f"History of {name}")
    for col in ("time (UTC)", "action", "version", "stage", "role", "by", "detail"):
        t.add_column(col)
    for x in lines:
        t.add_row(x["time"][:19], x["action"], x["version"], x["stage"], x["role"], x["by"], x.get("detail", ""))
    Console().print(t)
    reigns = [x for x in lines if x["role"] == "champion"]
    if reigns:
        click.echo("champions: " + " -> ".join(f"v{x['version']} from {x['time'][:19]}" for x in reigns))


@models.command()
@click.argument("name")
@click.option(
    "--log-dir", type=click.Path(path_type=Path), default=None, help="prediction log directory (default: VELO_LOG_DIR)"
)
@click.option("--champion", "champion_v", help="version to defend (default: the registry's champion)")
@click.option("--challenger", "challenger_v", help="version to test (default: the registry's challenger)")
@click.option(
    "--prob",
    type=click.Choice(["final_prob", "sqpe_prob"]),
    default="final_prob",
    show_default=True,
    help="which logged probability to score",
)
@click.option(
    "--min-races",
    type=click.IntRange(1),
    default=300,
    show_default=True,
    help="races scored by both before the policy may promote",
)
@click.option(
    "--min-improvement",
    type=click.FloatRange(0.0),
    default=0.0,
    show_default=True,
    help="log-loss improvement per race (nats) the lower confidence bound must exceed",
)
@click.option("--confidence", type=click.FloatRange(0.5, 0.9999), default=0.95, show_default=True)
@click.option(
    "--bootstrap",
    "n_boot",
    type=click.IntRange(100, 100_000),
    default=2000,
    show_default=True,
    help="bootstrap resamples of the races",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), help="write comparison.json and comparison.png here"
)
@click.option("--apply", is_flag=True, help="carry out the decision through the registry (promote or archive)")
@JSON_OPTION
@NO_PUBLISH
def compare(
    name: str,
    log_dir: Path | None,
    champion_v: str | None,
    challenger_v: str | None,
    prob: str,
    min_races: int,
    min_improvement: float,
    confidence: float,
    n_boot: int,
    seed: int,
    out: Path | None,
    apply: bool,
    as_json: bool,
    no_publish: bool,
) -> None:
    """Champion vs challenger on the same races from the labelled prediction log,
    with a paired bootstrap over races and the promotion policy's decision."""
    from velo.mlops.compare import compare as run_compare
    from velo.mlops.compare import write
    from velo.mlops.labelled import LabelledLogError, coverage_line, read_labelled_with_coverage, versions
    from velo.mlops.policy import PromotionPolicy

    reg = _registry()
    try:
        champ = reg.get(name, champion_v) if champion_v else reg.champion(name)
        chall = reg.get(name, challenger_v) if challenger_v else reg.challenger(name)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    if champ is None:
        raise click.ClickException(f"{name} has no champion in {reg.root}; name one with --champion")
    if chall is None:
        raise click.ClickException(
            f"{name} has no challenger in {reg.root}; name one with --challenger "
            f"or `velo models set-challenger {name} VERSION`"
        )
    log_dir = log_dir or Settings().log_dir
    try:
        frame, coverage = read_labelled_with_coverage(log_dir, name)
        if frame.empty:
            waiting = coverage.without_outcome()
            raise LabelledLogError(
                f"no labelled races for {name} in {log_dir}: predictions need their "
                f"outcome rows (a result for the race) to count; {waiting:,} predicted "
                f"race{'s' if waiting != 1 else ''} had no outcome yet"
            )
        comparison = run_compare(
            frame, name, champ.version, chall.version, prob, confidence, n_boot, seed, coverage=coverage
        )
    except LabelledLogError as exc:
        raise click.ClickException(str(exc)) from None
    policy = PromotionPolicy(min_races=min_races, min_improvement=min_improvement, confidence=confidence)
    decision = policy.decide(comparison)
    files = write(comparison, out, decision.to_dict()) if out else []
    if as_json:
        click.echo(json.dumps({**comparison.to_dict(), "decision": decision.to_dict()}, indent=2))
    else:
        _render_comparison(comparison, versions(frame))
        cov = comparison.coverage
        click.echo(
            coverage_line(cov["races_used"], cov["races_without_outcome"], cov["duplicate_rows"])
            + f" (v{champ.version} and v{chall.version})"
        )
        click.echo(("DECISION " if decision.action != "keep" else "decision ") + decision.reason)
        for f in files:
            click.echo(f"wrote {f}")
    if not apply or decision.action == "keep":
        if apply:
            click.echo("--apply: nothing to do (keep the champion)")
        return
    if chall.role != "challenger" or champ.role != "champion":
        raise click.ClickException(
            f"--apply needs the registry's champion and challenger; v{champ.version} is "
            f"{champ.role} and v{chall.version} is {chall.role}"
        )
    op = Registry.promote if decision.action == "promote" else Registry.archive
    _run(lambda r: op(r, name, chall.version), no_publish=no_publish)


def _render_comparison(c, logged_versions: list[str]) -> None:
    t = Table(
        title=f"{c.model_name}: champion v{c.champion} vs challenger v{c.challenger} on the same "
        f"{c.test.n_races} races ({c.prob})"
    )
    for col in ("model", "races", "log-loss", "pseudo-R²", "Brier", "top-1", "ECE", "flat ROI (bets)", "Kelly ROI"):
        t.add_column(col, justify="left" if col == "model" else "right")
    for s in c.summaries:
        sc, b = s.scores, s.betting
        flat = f"{b['flat']['roi']:+.3f} ({b['flat']['bets']})" if b and b["flat"]["bets"] else "–"
        kelly = f"{b['kelly']['roi']:+.3f}" if b and b["kelly"]["bets"] else "–"
        t.add_row(
            f"{s.role} v{s.version}",
            str(sc["n_races"]),
            f"{sc['logloss']:.4f}",
            f"{sc['pseudo_r2']:.4f}",
            f"{sc['brier']:.5f}",
            f"{sc['top1']:.3f}",
            f"{s.ece:.4f}",
            flat,
            kelly,
        )
    Console().print(t)
    x = c.test
    click.echo(
        f"paired over races: challenger better by {x.mean_improvement:+.4f} nats/race; "
        f"{x.confidence:.0%} CI [{x.ci_low:+.4f}, {x.ci_high:+.4f}], one-sided lower bound "
        f"{x.lower_bound:+.4f}; P(better) {x.prob_better:.3f} over {x.n_boot} bootstrap resamples; "
        f"Diebold-Mariano z {x.dm_stat:.2f} (p {x.dm_p:.2g})"
    )
    click.echo(f"versions with labelled races in the log: {', '.join(logged_versions)}")
