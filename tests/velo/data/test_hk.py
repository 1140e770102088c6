from __future__ import annotations

from pathlib import Path

import pytest

from velo.data import hk


@pytest.fixture(scope="module")
def hk_frame(shared_data: Path):
    return hk.load(shared_data / "hkracing")


def test_counts_match_the_source(hk_frame) -> None:
    df, report = hk_frame
    assert len(df) == 79_447
    assert df["race_id"].nunique() == 6_348
    assert report.rows_skipped == 0
    # the two win_odds of 1.0 are not prices; they are cleared, the rows kept
    assert report.values_cleared == 2


def test_final_odds_are_never_a_decision_time_price(hk_frame) -> None:
    df, _ = hk_frame
    assert df["price_pre"].isna().all()
    assert df["price_final"].notna().sum() == 79_445
    assert set(df.loc[df["won"] == 1].groupby("race_id").size().unique()) <= {1, 2}  # dead heats


def test_units_and_codes(hk_frame) -> None:
    df, _ = hk_frame
    assert df["weight_carried"].between(45, 62).all(), "lb converted to kg"
    assert set(df["sex"].dropna().unique()) <= {"G", "H", "C", "M", "F", "R"}
    assert df["course"].isin(["Sha Tin", "Happy Valley"]).all()


def test_final_as_pre_is_opt_in(shared_data: Path) -> None:
    df, _ = hk.load(shared_data / "hkracing", final_as_pre=True)
    assert (df["price_pre"].dropna() == df.loc[df["price_pre"].notna(), "price_final"]).all()
