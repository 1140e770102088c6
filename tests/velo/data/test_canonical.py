from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from velo.data import canonical


def _rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "race_id": ["r1", "r1", "r1", "r2", "", "r2"],
            "off_time": ["2024-01-01T10:00:00Z", "2024-01-01T10:00:00Z", "2024-01-01T10:00:00Z",
                         "2024-01-02T10:00:00+10:00", "2024-01-02T10:00:00Z", "yesterday"],
            "course": ["A"] * 6,
            "distance_m": ["1200", "1200", "1200", "1400", "1400", "1400"],
            "runner_id": ["h1", "h2", "h1", "h3", "h4", "h5"],
            "won": ["1", "0", "0", "1", "0", "0"],
            "result": ["1", "2", "", "1", "", ""],
            "price_pre": ["2.5", "0.5", "", "3", "", ""],
            "my_extra": ["x", "y", "z", "w", "v", "u"],
        }
    )  # fmt: skip


def test_bad_rows_are_reported_with_their_line_and_skipped() -> None:
    df, report = canonical.normalise(_rows(), source="t")
    assert report.rows_read == 6 and report.rows_kept == 3 and report.rows_skipped == 3
    text = "\n".join(report.problems)
    assert "line 4: duplicate (race_id, runner_id)" in text
    assert "line 6: race_id is empty" in text
    assert "line 7: off_time is not an ISO-8601 time" in text
    assert "line 3: price_pre 0.5 is not a decimal price > 1 (value cleared, row kept)" in text
    assert report.values_cleared == 1 and pd.isna(df.loc[df.runner_id == "h2", "price_pre"]).all()


def test_types_utc_extras_and_order() -> None:
    df, _ = canonical.normalise(_rows(), source="t")
    assert list(df.columns[: len(canonical.COLUMNS)]) == canonical.COLUMNS
    assert "my_extra" in df.columns, "unknown columns are carried along"
    assert str(df["off_time"].dt.tz) == "UTC"
    assert df.loc[df.runner_id == "h3", "off_time"].iloc[0] == pd.Timestamp("2024-01-02T00:00:00Z")
    assert df["off_time"].is_monotonic_increasing


def test_missing_required_column_is_an_error_naming_it() -> None:
    with pytest.raises(ValueError, match=r"missing required column.*won"):
        canonical.normalise(_rows().drop(columns=["won"]))


@pytest.mark.parametrize("name", ["x.csv", "x.csv.gz", "x.parquet"])
def test_write_read_round_trip(tmp_path: Path, name: str) -> None:
    df, _ = canonical.normalise(_rows(), source="t")
    canonical.write(df, tmp_path / name)
    back, report = canonical.read(tmp_path / name)
    assert report.rows_skipped == 0
    pd.testing.assert_frame_equal(back, df, check_dtype=False)


def test_unknown_extension_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown extension"):
        canonical.read(tmp_path / "x.json")
