"""One row of the prediction log: the original design's logging schema.

A prediction row has ``result_position``/``won`` null; an outcome row for the
same ``request_id`` and ``horse_id`` carries them once the result is known.
"""

from __future__ import annotations

from pydantic import Field

from schemas.base import Contract, UtcDatetime


class PredictionLog(Contract):
    timestamp: UtcDatetime
    request_id: str = Field(min_length=1)
    race_id: str = Field(min_length=1)
    horse_id: str = Field(min_length=1)
    model_name: str = Field(min_length=1)
    model_version: str = Field(min_length=1)
    is_champion: bool
    sqpe_prob: float | None = Field(default=None, ge=0.0, le=1.0)
    tie_intent: float | None = Field(default=None, ge=0.0, le=1.0)
    final_prob: float | None = Field(default=None, ge=0.0, le=1.0)
    result_position: int | None = Field(default=None, ge=1)
    won: bool | None = None
