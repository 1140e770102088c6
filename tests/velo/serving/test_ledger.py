"""The worker's outcome ledger: either arrival order gives the rows once."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from schemas.examples import race_result
from velo.features.memory_store import MemoryStore
from velo.serving.ledger import LoggedPrediction, OutcomeLedger, decode, encode, outcome_rows

MAIN = LoggedPrediction("req-1", "velo", "3", True)
SHADOW = LoggedPrediction("req-1", "velo", "4", False)


def test_stored_bytes_are_the_json_lists_the_worker_always_wrote() -> None:
    assert encode([MAIN, SHADOW]) == orjson.dumps([["req-1", "velo", "3", True], ["req-1", "velo", "4", False]])
    assert decode(encode([MAIN, SHADOW])) == [MAIN, SHADOW]
    assert decode(None) == []


def test_predictions_first_then_result() -> None:
    ledger, result = OutcomeLedger(MemoryStore()), race_result()
    assert ledger.record({result.race_id: [MAIN, SHADOW]}) == []
    assert ledger.settle([result]) == [[MAIN, SHADOW]]


def test_result_first_then_predictions_and_a_retry_adds_nothing() -> None:
    ledger, result = OutcomeLedger(MemoryStore()), race_result()
    assert ledger.settle([result]) == [[]]
    assert ledger.record({result.race_id: [MAIN]}) == [(result, [MAIN])]
    assert ledger.record({result.race_id: [MAIN]}) == []  # the same batch again
    got = ledger.record({result.race_id: [MAIN, SHADOW]})
    assert got == [(result, [SHADOW])]


def test_outcome_rows_one_per_prediction_and_finisher() -> None:
    result = race_result()
    rows = outcome_rows([MAIN, SHADOW], result, datetime.now(UTC))
    assert len(rows) == 2 * len(result.finishers)
    winners = {(r.model_version, r.horse_id) for r in rows if r.won}
    first = next(f.runner_id for f in result.finishers if f.position == 1)
    assert winners == {("3", first), ("4", first)}
