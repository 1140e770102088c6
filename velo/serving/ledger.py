"""The worker's own state: which predictions each race was given, and its
result once known, so every logged prediction gets its outcome rows.

It is not feature state (no feature reads it) and not market state (no
re-prediction depends on it), so it lives apart from both, over any
:class:`~velo.markets.store.BlobStore` (the worker's Redis, or memory in
tests), as a typed state in the manner of quix-streams' ``State``: named
entries with their encoding in one place.

Results and cards may arrive in either order. Each side writes its own
entry, then reads the other's, so whichever comes second sees both and
returns the pairs to turn into outcome rows: :meth:`OutcomeLedger.record`
for predictions, :meth:`OutcomeLedger.settle` for results. Both are
idempotent: a retried batch records nothing twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import NamedTuple

import orjson

from schemas import PredictionLog, RaceResult
from velo import keys
from velo.markets.store import BlobStore


class LoggedPrediction(NamedTuple):
    """One prediction a race was given, as its log row names it."""

    request_id: str
    model_name: str
    model_version: str
    is_champion: bool


def encode(entries: Sequence[LoggedPrediction]) -> bytes:
    """A race's entries as stored (a JSON list of 4-item lists)."""
    return orjson.dumps([list(e) for e in entries])


def decode(raw: bytes | None) -> list[LoggedPrediction]:
    """A race's stored entries; none if it has none."""
    return [LoggedPrediction(*e) for e in orjson.loads(raw)] if raw else []


class OutcomeLedger:
    """Each race's logged predictions and final result (see the module doc)."""

    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs

    def record(
        self, entries: Mapping[str, Sequence[LoggedPrediction]]
    ) -> list[tuple[RaceResult, list[LoggedPrediction]]]:
        """Add each race's new predictions (those it already holds are
        skipped) and return, for races whose result is already in, the
        result with the predictions this call added. Two round trips."""
        race_ids = list(entries)
        got = self.blobs.get_blobs([keys.logged(r) for r in race_ids] + [keys.final(r) for r in race_ids])
        stored: dict[str, bytes] = {}
        added: dict[str, list[LoggedPrediction]] = {}
        for race_id, raw in zip(race_ids, got, strict=False):
            before = decode(raw)
            have = set(before)
            added[race_id] = [e for e in entries[race_id] if e not in have]
            stored[keys.logged(race_id)] = encode(before + added[race_id])
        self.blobs.put_blobs(stored)
        return [
            (RaceResult.decode(final), added[race_id])
            for race_id, final in zip(race_ids, got[len(race_ids) :], strict=True)
            if final is not None and added[race_id]
        ]

    def settle(self, results: Sequence[RaceResult]) -> list[list[LoggedPrediction]]:
        """Record each result as its race's final one, and return the
        predictions already logged for each. Two round trips."""
        if not results:
            return []
        self.blobs.put_blobs({keys.final(r.race_id): r.encode() for r in results})
        return [decode(raw) for raw in self.blobs.get_blobs([keys.logged(r.race_id) for r in results])]


def outcome_rows(entries: Sequence[LoggedPrediction], result: RaceResult, now: datetime) -> list[PredictionLog]:
    """A row per (logged prediction, finisher): what the log's readers join on."""
    make = PredictionLog.trusted  # our own logged entry and a validated result
    return [
        make(
            {
                "timestamp": now,
                "request_id": e.request_id,
                "race_id": result.race_id,
                "horse_id": f.runner_id,
                "model_name": e.model_name,
                "model_version": e.model_version,
                "is_champion": e.is_champion,
                "result_position": f.position,
                "won": f.position == 1,
            }
        )
        for e in entries
        for f in result.finishers
    ]
