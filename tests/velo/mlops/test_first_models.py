"""A registry's first champion and challenger, as the demo starts them."""

from __future__ import annotations

from pathlib import Path

from velo.features.offline import build_training_set
from velo.mlops.first_models import register_first_models
from velo.registry import Registry
from velo.sim import SimConfig, simulate


def test_the_champion_serves_and_the_challenger_runs_in_shadow(tmp_path: Path) -> None:
    train = build_training_set(simulate(SimConfig(seed=6, days=40, n_horses=300)).events())
    registry = Registry(tmp_path / "reg")
    seen = []

    def registered(role: str, iters: int, rec) -> None:
        seen.append((role, iters))

    champion, challenger = register_first_models(registry, train, tmp_path, iterations=16, on_registered=registered)
    assert seen == [("champion", 16), ("challenger", 8)]
    assert (champion.role, challenger.role) == ("champion", "challenger")
    assert registry.champion("velo").version == champion.version
    assert registry.challenger("velo").version == challenger.version != champion.version
