from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from velo.cli.main import main
from velo.data import canonical


def test_convert_sim_to_csv(tmp_path: Path) -> None:
    out = tmp_path / "sim.csv"
    res = CliRunner().invoke(main, ["data", "convert", "--source", "sim", "--days", "6", "--output", str(out)])
    assert res.exit_code == 0, res.output
    df, report = canonical.read(out)
    assert report.rows_skipped == 0 and len(df) > 0
    assert f"wrote {len(df):,} runners" in res.output


def test_hk_convert_counts(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "hk.parquet"
    res = CliRunner().invoke(
        main, ["data", "convert", "--source", "hk", "--input", str(shared_data / "hkracing"), "--output", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert "wrote 79,447 runners in 6,348 races" in res.output


def test_bad_arguments_name_the_problem(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["data", "convert", "--source", "hk", "--output", str(tmp_path / "x.csv")])
    assert r.exit_code == 2 and "--data is required for --source hk" in r.output
    r = CliRunner().invoke(main, ["data", "convert", "--source", "sim", "--output", str(tmp_path / "x.txt")])
    assert r.exit_code == 2 and "use a .csv, .csv.gz or .parquet" in r.output
    r = CliRunner().invoke(main, ["data", "convert", "--source", "nope", "--output", "x.csv"])
    assert r.exit_code == 2 and "nope" in r.output
