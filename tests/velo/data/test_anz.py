from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from velo.data import anz
from velo.data.events import build_events
from velo.features.offline import FEATURE_COLUMNS, build_training_set

POST_OFF_MARKERS = ("INPLAY", "LAST_PRICE_TAKEN", "PLACE", "BSP_VOLUME", "ACTUAL_OFF")


@pytest.fixture(scope="module")
def anz_dir(shared_data: Path) -> Path:
    return shared_data / "betfair_anz_thoroughbreds"


@pytest.mark.parametrize("month", ["2020_01", "2023_01", "2025_04", "2025_08"])
def test_every_date_format_parses(anz_dir: Path, month: str) -> None:
    """ISO, ISO with .000, BOM-prefixed, and d/mm/yyyy with AM/PM months."""
    df, report = anz.load(anz_dir / f"ANZ_Thoroughbreds_{month}.csv.gz")
    assert report.reasons.get("unreadable date/time", 0) == 0
    assert df["off_time"].notna().all()
    year, mon = map(int, month.split("_"))
    local = df["off_time"].dt.tz_convert("Australia/Sydney")
    assert ((local.dt.year == year) & (local.dt.month == mon)).mean() > 0.99
    assert df["price_final"].notna().mean() > 0.99 and df["price_pre"].notna().mean() > 0.98


def test_no_post_off_column_survives(anz_dir: Path) -> None:
    df, _ = anz.load(anz_dir / "ANZ_Thoroughbreds_2024_02.csv.gz")
    for col in df.columns:
        assert not any(m in col.upper() for m in POST_OFF_MARKERS), col


def _scramble_post_off(src: Path, dst: Path) -> None:
    raw = pd.read_csv(src, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    rng = np.random.default_rng(0)
    for col in anz.POST_OFF:
        if col == "ACTUAL_OFF_TIME":
            raw[col] = "23:59:59"
        else:
            raw[col] = rng.permutation(raw[col].to_numpy())
    with gzip.open(dst, "wt", encoding="utf-8") as f:
        raw.to_csv(f, index=False)


def test_in_play_columns_never_reach_a_feature(anz_dir: Path, tmp_path: Path) -> None:
    """Scrambling every post-off column changes neither the data nor any feature."""
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    a_dir.mkdir(), b_dir.mkdir()
    for month in ("2024_01", "2024_02"):
        name = f"ANZ_Thoroughbreds_{month}.csv.gz"
        shutil.copy(anz_dir / name, a_dir / name)
        _scramble_post_off(anz_dir / name, b_dir / name)
    a, _ = anz.load(a_dir)
    b, _ = anz.load(b_dir)
    pd.testing.assert_frame_equal(a, b)
    fa = build_training_set(build_events(a))
    fb = build_training_set(build_events(b))
    np.testing.assert_array_equal(fa[FEATURE_COLUMNS].to_numpy(), fb[FEATURE_COLUMNS].to_numpy())
    assert fa["career_starts"].max() > 0, "the window must hold repeat runners for this to mean anything"


def test_malformed_rows_are_reported_with_file_and_line(anz_dir: Path, tmp_path: Path) -> None:
    raw = pd.read_csv(anz_dir / "ANZ_Thoroughbreds_2020_02.csv.gz", dtype=str, keep_default_na=False, nrows=50)
    raw.loc[4, "LOCAL_MEETING_DATE"] = "not a date"
    raw.loc[7, "SELECTION_ID"] = ""
    path = tmp_path / "ANZ_Thoroughbreds_2099_01.csv"
    raw.to_csv(path, index=False)
    _, report = anz.load(path)
    text = "\n".join(report.problems)
    assert "ANZ_Thoroughbreds_2099_01.csv line 6: unreadable date/time 'not a date'" in text
    assert "ANZ_Thoroughbreds_2099_01.csv line 9: runner_id is empty" in text
    assert report.rows_kept == 48 and report.rows_skipped == 2


def test_market_events_carry_only_decision_time_prices(anz_dir: Path) -> None:
    """Pre-play traded figures run to the actual jump, after the decision: they must not become events."""
    df, _ = anz.load(anz_dir / "ANZ_Thoroughbreds_2024_02.csv.gz")
    markets = [e.message for e in build_events(df) if e.kind == "market" and e.message.status == "OPEN"]
    assert markets and all(m.last_traded_price is None and m.traded_volume is None for m in markets)
    back = df.set_index(["race_id", "runner_id"])["bf_back_pre"]
    sample = markets[:500]
    assert all(m.back_price == back[(m.race_id, m.runner_id)] for m in sample)
