"""Shared fixtures: the real embedded stack, and the real data when present."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.embedded import start_embedded_stack
from velo.config import Settings
from velo.stack import EmbeddedStack

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
