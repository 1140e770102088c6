"""The labelled log counts every prediction and outcome once, and says what it left out."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from velo.mlops.compare import compare
from velo.mlops.labelled import coverage_line, labelled_with_coverage, read_labelled_with_coverage

from .repeats import build, write


def test_repeated_rows_count_once_and_missing_outcomes_are_counted(tmp_path: Path) -> None:
    log = build()
    clean, clean_cov = read_labelled_with_coverage(write(tmp_path / "clean", log.clean), "velo")
    dirty, cov = read_labelled_with_coverage(write(tmp_path / "dirty", log.dirty), "velo")
    pd.testing.assert_frame_equal(dirty, clean)
    assert clean["race_id"].nunique() == log.races and len(clean) == log.races * 2 * 6
    assert cov.with_outcome() == clean_cov.with_outcome() == log.races
    assert cov.without_outcome() == clean_cov.without_outcome() == log.waiting
    assert cov.without_outcome(["1"]) == log.waiting - log.waiting_v2_only and cov.without_outcome(["2"]) == log.waiting
    assert cov.duplicate_rows == log.repeats > 0 and clean_cov.duplicate_rows == 0
    assert cov.to_dict(["1", "2"], used=log.races) == {"races_used": log.races, "races_with_outcome": log.races,
                                                       "races_without_outcome": log.waiting,
                                                       "duplicate_rows": log.repeats}  # fmt: skip
    a = compare(dirty, "velo", "1", "2", n_boot=500, coverage=cov).to_dict()
    b = compare(clean, "velo", "1", "2", n_boot=500, coverage=clean_cov).to_dict()
    assert a.pop("coverage") == {"races_used": log.races, "races_with_outcome": log.races,
                                 "races_without_outcome": log.waiting, "duplicate_rows": log.repeats}  # fmt: skip
    assert b.pop("coverage")["duplicate_rows"] == 0
    assert a == b, "the same metrics as the log without repeats"


def test_conflicting_repeats_keep_one_outcome_per_runner() -> None:
    """A runner's outcome written twice with different content still counts once (the last written)."""
    log = build(races=3, waiting=0)
    outs = [r for r in log.clean if r.won is not None]
    flipped = [o.model_copy(update={"won": not o.won, "result_position": 2 if o.won else 1}) for o in outs]
    frame, cov = labelled_with_coverage([*log.clean, *flipped, *outs], "velo")
    assert len(frame) == 3 * 2 * 6 and frame.groupby(["race_id", "model_version"])["won"].sum().eq(1).all()
    assert cov.duplicate_rows == 2 * len(outs)


def test_an_empty_log_has_empty_coverage() -> None:
    frame, cov = labelled_with_coverage([], "velo")
    assert frame.empty and cov.with_outcome() == cov.without_outcome() == cov.duplicate_rows == 0


def test_coverage_line_reads_as_a_sentence() -> None:
    assert coverage_line(6348, 0) == "used 6,348 races with results; 0 predicted races had no outcome yet"
    assert coverage_line(1, 1, 12) == ("used 1 race with results; 1 predicted race had no outcome yet "
                                       "(12 repeated log rows counted once)")  # fmt: skip
