"""The canonical dataset: one row per runner, the same for every source.

See ``docs/data-format.md``. ``price_final`` (SP, BSP, final tote) is kept for
benchmarking and settlement only and never reaches a feature; columns a source
does not have are present and empty; unknown extra columns are carried along.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from velo.data.report import LoadReport

REQUIRED = ["race_id", "off_time", "course", "distance_m", "runner_id", "won", "result"]
OPTIONAL = [
    "non_runner", "price_pre", "price_final", "going", "race_class", "surface", "race_type", "draw",
    "weight_carried", "age", "sex", "rating", "jockey_id", "trainer_id", "horse_name", "gear", "prize",
    "body_weight", "finish_time", "beaten_lengths", "running_positions", "sectional_times",
]  # fmt: skip
COLUMNS = REQUIRED + OPTIONAL

FLOAT_COLUMNS = ["price_pre", "price_final", "weight_carried", "rating", "prize", "body_weight", "finish_time",
                 "beaten_lengths"]  # fmt: skip
#: Optional numbers out of range are cleared (reported), not fatal: low, high, whether low is allowed, and
#: what they should be (the bounds of the card and result contracts).
_RANGES = {
    "body_weight": (0.0, 1500.0, False, "a body weight in kg (0, 1500]"),
    "finish_time": (0.0, 3600.0, False, "a finishing time in seconds (0, 3600]"),
    "beaten_lengths": (0.0, 500.0, True, "a number of lengths [0, 500]"),
}
#: Lists of numbers written as text, separated by spaces (``"6 4 6 10"``).
LIST_COLUMNS = {"running_positions": "positions (1-60)", "sectional_times": "times in seconds"}
INT_COLUMNS = ["distance_m", "won", "result", "draw", "age", "non_runner"]
STR_COLUMNS = [
    "race_id", "course", "runner_id", "going", "race_class", "surface", "race_type", "sex", "jockey_id",
    "trainer_id", "horse_name", "gear", "running_positions", "sectional_times",
]  # fmt: skip


def _blank(series: pd.Series) -> pd.Series:
    return series.isna() | (series.astype(str).str.strip() == "")


def _extra(series: pd.Series) -> pd.Series:
    """An extra column read as text: blanks become missing, and a column whose
    every other value is a number becomes numeric (a CSV reads them all as
    text, and a blank ``bf_lay_pre`` in a 2026 ANZ file reached a float())."""
    if pd.api.types.is_numeric_dtype(series):
        return series
    blank = _blank(series)
    num = pd.to_numeric(series.where(~blank), errors="coerce")
    if (num.notna() | blank).all():
        return num.astype("float64")
    return _text(series)


def _number_list(value: object, integers: bool) -> bool:
    """True if ``value`` is a space-separated list of at most 12 numbers the
    result contract takes: positions 1-60, or times in (0, 3600] seconds."""
    try:
        numbers = [float(x) for x in str(value).split()]
    except ValueError:
        return False
    if len(numbers) > 12:
        return False
    if integers:
        return all(x.is_integer() and 1 <= x <= 60 for x in numbers)
    return all(0 < x <= 3600 for x in numbers)


def parse_list(value: str | None, integers: bool = False) -> list[float] | list[int] | None:
    """A ``LIST_COLUMNS`` cell as numbers; None when blank."""
    if value is None or not str(value).strip():
        return None
    numbers = [float(x) for x in str(value).split()]
    return [int(x) for x in numbers] if integers else numbers


def _text(series: pd.Series) -> pd.Series:
    """Stripped text, blank as missing."""
    return series.astype("string").str.strip().replace("", pd.NA)


def normalise(df: pd.DataFrame, source: str = "canonical") -> tuple[pd.DataFrame, LoadReport]:
    """Coerce types, drop invalid rows (reported with their row number), sort.

    Rows are located by their 0-based position in ``df`` (plus the header line
    for files: row ``i`` is line ``i + 2``).
    """
    report = LoadReport(source=source, rows_read=len(df))
    df = df.copy()
    df["_line"] = np.arange(len(df)) + 2
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise ValueError(f"{source}: missing required column(s): {', '.join(missing)}")
    for col in OPTIONAL:
        if col not in df.columns:
            df[col] = pd.NA
    bad = pd.Series(False, index=df.index)
    reasons: dict[int, str] = {}

    def flag(mask: pd.Series, reason: str) -> None:
        nonlocal bad
        new = mask & ~bad
        for idx in df.index[new]:
            reasons[idx] = reason
        bad = bad | mask

    for col in ("race_id", "course", "runner_id"):
        flag(_blank(df[col]), f"{col} is empty")
    off = pd.to_datetime(df["off_time"], utc=True, errors="coerce", format="ISO8601")
    flag(off.isna(), "off_time is not an ISO-8601 time")
    df["off_time"] = off
    for col in INT_COLUMNS + FLOAT_COLUMNS:
        raw = df[col]
        num = pd.to_numeric(raw, errors="coerce")
        flag(num.isna() & ~_blank(raw), f"{col} is not a number")
        df[col] = num
    flag(df["distance_m"].isna() | (df["distance_m"] <= 0), "distance_m must be a positive number")
    flag(~df["won"].isin([0, 1]), "won must be 0 or 1")
    for col in ("price_pre", "price_final"):
        silly = df[col].notna() & (df[col] <= 1.0) & ~bad
        for idx in df.index[silly]:
            report.clear(f"line {df.at[idx, '_line']}", f"{col} {df.at[idx, col]} is not a decimal price > 1")
        df.loc[silly, col] = np.nan
    for col, (lo, hi, low_ok, what) in _RANGES.items():
        above = df[col] >= lo if low_ok else df[col] > lo
        silly = df[col].notna() & ~(above & (df[col] <= hi)) & ~bad
        for idx in df.index[silly]:
            report.clear(f"line {df.at[idx, '_line']}", f"{col} {df.at[idx, col]} is not {what}")
        df.loc[silly, col] = np.nan
    flag(df["result"].notna() & (df["result"] < 1), "result must be a position >= 1")
    for col, what in LIST_COLUMNS.items():
        raw = df[col]
        integers = col == "running_positions"
        ok = _blank(raw) | raw.map(lambda v, i=integers: _number_list(v, i)).astype(bool)
        flag(~ok, f"{col} must be {what} separated by spaces")
    dup = df.duplicated(["race_id", "runner_id"], keep="first")
    flag(dup, "duplicate (race_id, runner_id)")
    for idx in df.index[bad]:
        report.skip(f"line {df.at[idx, '_line']}", reasons[idx])
    df = df.loc[~bad].copy()
    for col in ("distance_m", "won"):
        df[col] = df[col].astype("int64")
    for col in ("result", "draw", "age", "non_runner"):
        df[col] = df[col].astype("Int64")
    df["non_runner"] = df["non_runner"].fillna(0)
    for col in FLOAT_COLUMNS:
        df[col] = df[col].astype("float64")
    for col in STR_COLUMNS:
        df[col] = _text(df[col])
    extra = [c for c in df.columns if c not in COLUMNS and c != "_line"]
    for col in extra:  # a source's own columns (bf_lay_pre, ...): blank is missing, numbers are numbers
        df[col] = _extra(df[col])
    df = df.sort_values(["off_time", "race_id", "runner_id"], kind="stable").reset_index(drop=True)
    df = df[COLUMNS + extra]
    report.rows_kept = len(df)
    report.races = df["race_id"].nunique()
    return df, report


def read(path: str | Path) -> tuple[pd.DataFrame, LoadReport]:
    """Read a canonical CSV or Parquet file (by extension) and normalise it."""
    path = Path(path)
    if path.suffix == ".parquet":
        raw = pd.read_parquet(path)
    elif path.name.endswith((".csv", ".csv.gz")):
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    else:
        raise ValueError(f"{path}: unknown extension; use .csv, .csv.gz or .parquet")
    return normalise(raw, source=str(path))


def write(df: pd.DataFrame, path: str | Path) -> None:
    """Write CSV or Parquet by extension; off_time as UTC ISO-8601."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = df.copy()
    if path.suffix == ".parquet":
        out.to_parquet(path, index=False)
        return
    if not path.name.endswith((".csv", ".csv.gz")):
        raise ValueError(f"{path}: unknown extension; use .csv, .csv.gz or .parquet")
    out["off_time"] = out["off_time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    out.to_csv(path, index=False)
