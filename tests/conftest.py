"""Shared fixtures: the real embedded stack, and the real data when present."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.embedded import start_embedded_stack
from velo.config import Settings
from velo.features.offline import build_training_set
from velo.sim import SimConfig, simulate
from velo.stack import EmbeddedStack
from velo.training.artifacts import save_model
from velo.training.pipeline import TrainConfig, fit_model

ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    """``../shared/data`` beside the checkout (or $VELO_SHARED_DATA), if present."""
    import os

    for cand in (os.environ.get("VELO_SHARED_DATA"), ROOT.parent / "shared" / "data"):
        if cand and Path(cand).is_dir():
            return Path(cand)
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    found = shared_data_dir()
    if found is None:
        pytest.skip("real data not found: expected ../shared/data beside the checkout or $VELO_SHARED_DATA")
    return found


@pytest.fixture(scope="session")
def stack() -> Iterator[EmbeddedStack]:
    """One real broker + Redis for the session, on free loopback ports."""
    st = start_embedded_stack(Settings(), 0, 0)
    try:
        yield st
    finally:
        st.stop()


@pytest.fixture()
def settings(stack: EmbeddedStack) -> Settings:
    return stack.settings()


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory) -> list[Path]:
    """Two small trained models on disk (different seeds), as velo train writes them."""
    out = []
    for seed in (61, 62):
        frame = build_training_set(simulate(SimConfig(seed=seed, days=40, n_horses=300)).events())
        model, _ = fit_model(frame, TrainConfig(sqpe_max_iter=20))
        d = tmp_path_factory.mktemp(f"trained{seed}")
        save_model(model, d)
        out.append(d)
    return out
