"""Part.trusted: the worker's fast construction gives the same message as validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import Prediction, PredictionLog
from schemas.prediction import Recommendation, RunnerPrediction


def _runner() -> dict:
    return {"runner_id": "h1", "sqpe_prob": 0.25, "tie_intent": 0.5, "nds_signal": -0.1, "market_prob": None,
            "final_prob": 0.3, "price": 4.5, "recommendation": {"side": "back", "stake_fraction": 0.02}}  # fmt: skip


def test_trusted_equals_the_validated_message_and_its_wire_bytes() -> None:
    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    fields = {"request_id": "r:1", "race_id": "r", "model_name": "velo", "model_version": "3", "created_at": now,
              "timings_ms": {"model": 0.5}}  # fmt: skip
    validated = Prediction(**fields, runners=[RunnerPrediction(**_runner())])
    raw = _runner()
    rec = Recommendation.trusted(raw.pop("recommendation"))
    fast = Prediction.trusted({**fields, "runners": [RunnerPrediction.trusted({**raw, "recommendation": rec})]})
    assert fast == validated
    assert fast.schema_version == validated.schema_version  # a constant default left out is filled in
    assert fast.encode() == validated.encode()
    assert Prediction.decode(fast.encode()) == validated


def test_trusted_falls_back_to_model_construct_when_a_default_needs_a_factory() -> None:
    now = datetime(2026, 12, 2, tzinfo=UTC)
    p = Prediction.trusted({"request_id": "r:1", "race_id": "r", "model_name": "velo", "model_version": "3",
                            "created_at": now, "runners": []})  # fmt: skip
    assert p.timings_ms == {}  # from the field's default_factory
    row = PredictionLog.trusted({"timestamp": now, "request_id": "r:1", "race_id": "r", "horse_id": "h",
                                 "model_name": "velo", "model_version": "3", "is_champion": True})  # fmt: skip
    assert row.won is None and row.final_prob is None
    assert PredictionLog.decode(row.encode()) == row


@settings(max_examples=200, deadline=None)
@given(
    ts=st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=8))])),
    prob=st.none() | st.floats(0.0, 1.0),
    price=st.none() | st.floats(1.0, 1e6, exclude_min=True),
    position=st.none() | st.integers(1, 2**63 - 1),
    won=st.none() | st.booleans(),
    text=st.text(min_size=1, max_size=20),
)
def test_a_log_row_encodes_as_the_serializer_would(ts, prob, price, position, won, text) -> None:
    """PredictionLog.encode writes its fields directly; the bytes must be the
    serializer's, for validated rows and for the worker's exact ones."""
    values = {"timestamp": ts, "request_id": text, "race_id": text, "horse_id": text, "model_name": "velo",
              "model_version": "3", "is_champion": won is True, "sqpe_prob": prob, "tie_intent": prob,
              "final_prob": prob, "market_prob": prob, "price": price, "stake_fraction": prob,
              "result_position": position, "won": won}  # fmt: skip
    validated = PredictionLog(**values)
    exact = PredictionLog.exact({"schema_version": 1, **{k: getattr(validated, k) for k in values}})
    for row in (validated, exact):
        assert row.encode() == orjson.dumps(row.model_dump(mode="python"))
    assert PredictionLog.decode(exact.encode()) == validated
