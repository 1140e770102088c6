"""The labelled prediction log: prediction rows joined with their outcomes.

The worker writes a prediction row per runner and model when it scores a
card, and an outcome row per finisher later, under the same ``request_id``.
Delivery is at-least-once, so rows can repeat; a card re-sent with changes
gets a new ``request_id`` and only the last one scored is given outcomes. A
runner that was scored but is missing from the result (withdrawn late) did
not win, as in the offline training set.

Outcome rows may be written more than once for the same runner (redelivery,
or both the card side and the result side writing them): prediction and
outcome rows are each kept once per ``KEY``, so a repeat never counts twice.
``Coverage`` says how many predicted races the frame stands on and how many
are still waiting for their outcome, so a comparison on few races is visibly
few, not silently so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from schemas import PredictionLog
from velo.logs.prediction_log import read_log

#: One prediction (and at most one outcome) per key; model_name keeps two models' version "1" apart.
KEY = ["request_id", "horse_id", "model_name", "model_version"]
PRED_COLUMNS = ["timestamp", "race_id", "is_champion", "sqpe_prob", "tie_intent", "final_prob", "market_prob",
                "price", "stake_fraction"]  # fmt: skip
COLUMNS = ["race_id", "request_id", "horse_id", "model_name", "model_version", "is_champion", "timestamp",
           "sqpe_prob", "tie_intent", "final_prob", "market_prob", "price", "stake_fraction", "won",
           "result_position"]  # fmt: skip


class LabelledLogError(ValueError):
    """The log cannot answer the question asked (no rows, no outcomes, unknown model)."""


@dataclass(frozen=True)
class Coverage:
    """Which races each model version predicted, and which of those have their outcome logged.

    Keyed by version: read it for one model name (versions of different
    models would be pooled).
    """

    predicted: dict[str, frozenset[str]]
    labelled: dict[str, frozenset[str]]
    #: prediction and outcome rows dropped as repeats of a row already read
    duplicate_rows: int = 0

    def _union(self, sets: dict[str, frozenset[str]], versions: Iterable[str] | None) -> set[str]:
        keys = sets.keys() if versions is None else versions
        return set().union(*(sets.get(v, frozenset()) for v in keys))

    def with_outcome(self, versions: Iterable[str] | None = None) -> int:
        """Races (any of ``versions``, default all) with a logged result."""
        return len(self._union(self.labelled, versions))

    def without_outcome(self, versions: Iterable[str] | None = None) -> int:
        """Races predicted by one of ``versions`` (default all) that have no outcome for it yet."""
        keys = list(self.predicted) if versions is None else list(versions)
        return len(set().union(*(self.predicted.get(v, frozenset()) - self.labelled.get(v, frozenset()) for v in keys)))

    def to_dict(self, versions: Iterable[str] | None = None, used: int | None = None) -> dict[str, Any]:
        keys = None if versions is None else list(versions)
        out = {
            "races_with_outcome": self.with_outcome(keys),
            "races_without_outcome": self.without_outcome(keys),
            "duplicate_rows": self.duplicate_rows,
        }
        return out if used is None else {"races_used": used, **out}


def coverage_line(used: int, without: int, duplicates: int = 0) -> str:
    """``used 6,348 races with results; 0 predicted races had no outcome yet`` (plus repeats dropped, if any)."""
    races = "race" if used == 1 else "races"
    predicted = "predicted race" if without == 1 else "predicted races"
    line = f"used {used:,} {races} with results; {without:,} {predicted} had no outcome yet"
    return line + (f" ({duplicates:,} repeated log rows counted once)" if duplicates else "")


def _frame(rows: Iterable[PredictionLog]) -> pd.DataFrame:
    records = [r.model_dump() for r in rows]
    cols = [*KEY, *PRED_COLUMNS, "won", "result_position"]
    return pd.DataFrame.from_records(records, columns=cols) if records else pd.DataFrame(columns=cols)


def labelled_frame(rows: Iterable[PredictionLog], model_name: str | None = None) -> pd.DataFrame:
    """One row per runner and model version, for races whose result is logged.

    Columns: see ``COLUMNS``; ``won`` is 0/1 float. Races are ordered by the
    time they were scored.
    """
    return labelled_with_coverage(rows, model_name)[0]


def _races(frame: pd.DataFrame) -> dict[str, frozenset[str]]:
    return {str(v): frozenset(g.unique()) for v, g in frame.groupby("model_version")["race_id"]}


def labelled_with_coverage(
    rows: Iterable[PredictionLog], model_name: str | None = None
) -> tuple[pd.DataFrame, Coverage]:
    """The labelled frame (as ``labelled_frame``) and the coverage of the predictions it came from."""
    raw = _frame(rows)
    if model_name is not None:
        raw = raw[raw["model_name"] == model_name]
    is_outcome = raw["won"].notna()
    all_preds = raw[~is_outcome & raw["final_prob"].notna()]
    preds = all_preds.drop_duplicates(KEY, keep="first")
    outs = raw[is_outcome].drop_duplicates(KEY, keep="last")[[*KEY, "won", "result_position"]]
    duplicates = len(all_preds) - len(preds) + int(is_outcome.sum()) - len(outs)
    frame = _join(preds, outs)
    return frame, Coverage(_races(preds), _races(frame), duplicates)


def _join(preds: pd.DataFrame, outs: pd.DataFrame) -> pd.DataFrame:
    if preds.empty or outs.empty:
        return pd.DataFrame(columns=COLUMNS)
    merged = preds.drop(columns=["won", "result_position"]).merge(outs, on=KEY, how="left")
    # only cards whose result arrived; a runner absent from the result did not win
    group = ["request_id", "model_name", "model_version"]
    has_result = merged["won"].notna().groupby([merged[c] for c in group]).transform("any")
    merged = merged[has_result.to_numpy(dtype=bool)].copy()
    merged["won"] = merged["won"].fillna(False).astype(float)
    # one card per race and model version: the last one scored (the one the result was logged for)
    merged["timestamp"] = pd.to_datetime(merged["timestamp"], utc=True)
    card = ["race_id", "model_name", "model_version"]
    scored = merged.groupby([*card, "request_id"], as_index=False)["timestamp"].max()
    keep = scored.sort_values("timestamp", kind="stable").groupby(card).tail(1)[[*card, "request_id"]]
    merged = merged.merge(keep, on=[*card, "request_id"])
    start = merged.groupby("race_id")["timestamp"].transform("min")
    merged = merged.assign(_start=start).sort_values(["_start", "race_id", "model_version", "horse_id"], kind="stable")
    for col in ("sqpe_prob", "tie_intent", "final_prob", "market_prob", "price", "stake_fraction"):
        merged[col] = merged[col].astype(float)
    return merged[COLUMNS].reset_index(drop=True)


def read_labelled(log_dir: str | Path, model_name: str | None = None) -> pd.DataFrame:
    """The labelled frame of every log file in ``log_dir``."""
    return read_labelled_with_coverage(log_dir, model_name)[0]


def read_labelled_with_coverage(log_dir: str | Path, model_name: str | None = None) -> tuple[pd.DataFrame, Coverage]:
    """The labelled frame of every log file in ``log_dir``, and its coverage."""
    path = Path(log_dir)
    if not path.is_dir():
        raise LabelledLogError(f"prediction log directory {path} does not exist")
    return labelled_with_coverage(read_log(path), model_name)


def versions(frame: pd.DataFrame) -> list[str]:
    """Model versions with labelled rows, oldest first (numerically when they are numbers)."""
    vs = frame["model_version"].unique().tolist()
    return sorted(vs, key=lambda v: (0, int(v), "") if str(v).isdigit() else (1, 0, str(v)))


def paired(frame: pd.DataFrame, a: str, b: str, prob: str = "final_prob") -> pd.DataFrame:
    """Rows of versions ``a`` and ``b`` on the races both scored completely.

    A race counts when each version has a finite ``prob`` for every runner it
    scored, the same runners, and a winner among them: the comparison is then
    on exactly the same races.
    """
    known = versions(frame)
    for v in (a, b):
        if v not in known:
            found = ", ".join(known) if known else "none"
            raise LabelledLogError(f"no labelled predictions for version {v} (versions with outcomes: {found})")
    sub = frame[frame["model_version"].isin([a, b])]
    finite = pd.Series(np.isfinite(sub[prob].to_numpy(dtype=float)), index=sub.index)
    per = (
        pd.DataFrame({"race_id": sub["race_id"], "version": sub["model_version"], "finite": finite, "won": sub["won"]})
        .groupby(["race_id", "version"])
        .agg(finite=("finite", "all"), won=("won", "sum"))
    )
    per = per[per["finite"] & (per["won"] > 0)].reset_index()
    both = per.groupby("race_id")["version"].size()
    both = set(both.index[both == 2])
    # the same runners for both versions: every (race, runner) of those races is scored twice
    cand = sub[sub["race_id"].isin(both)]
    twice = cand.groupby(["race_id", "horse_id"])["model_version"].transform("nunique") == 2
    uneven = set(cand.loc[~twice, "race_id"])
    both -= uneven
    return sub[sub["race_id"].isin(both)].reset_index(drop=True)
