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
    # the two win_odds of 1.0 are not prices, and seven lengths_behind are
    # negative; they are cleared, the rows kept
    assert report.values_cleared == 9
    assert report.reasons["price_final cleared"] == 2 and report.reasons["beaten_lengths cleared"] == 7


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


def test_the_form_book_is_carried(hk_frame) -> None:
    df, _ = hk_frame
    assert df["finish_time"].between(50, 200).all()
    assert (df.loc[df["won"] == 1, "beaten_lengths"] == 0).all()
    assert df["beaten_lengths"].max() < 999, "999 means not recorded: left empty"
    assert df["body_weight"].between(300, 700).all(), "declared weight, lb converted to kg"
    first = df.iloc[0]
    assert first["race_id"] == "hk-0"
    positions = df["running_positions"].str.split().map(len)
    assert positions.between(1, 6).all() and (positions >= 3).mean() > 0.99
    # a runner's sectional times sum to about its finishing time
    sections = df["sectional_times"].dropna().map(lambda s: sum(map(float, s.split())))
    assert ((sections - df.loc[sections.index, "finish_time"]).abs() < 1.0).mean() > 0.95
