"""One row of the prediction log: the original design's logging schema.

A prediction row has ``result_position``/``won`` null; an outcome row for the
same ``request_id`` and ``horse_id`` carries them once the result is known.

``market_prob``, ``price`` and ``stake_fraction`` (optional, added within
version 1) are what the model saw and recommended at decision time, so the
log alone can score a model against the market and compute the ROI of its
recommendations (``velo models compare``, ``velo monitor``).
"""

from __future__ import annotations

from typing import Annotated

import orjson
from pydantic import Field

from schemas.base import Contract
from schemas.types import INT64_MAX, AsInt, UtcDatetime


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
    market_prob: float | None = Field(default=None, ge=0.0, le=1.0)
    price: float | None = Field(default=None, gt=1.0, description="decimal price the recommendation used")
    stake_fraction: float | None = Field(default=None, ge=0.0, le=1.0, description="recommended bankroll fraction")
    result_position: Annotated[int, Field(ge=1, le=INT64_MAX), AsInt] | None = None
    won: bool | None = None

    def encode(self) -> bytes:
        """Every field is a plain value (text, number, flag, time or null),
        so the fields are already the document the serializer would build,
        and orjson writes them the same without its walk (the worker writes
        a row per runner and model). Tested equal to the serializer's bytes."""
        return orjson.dumps(self.__dict__)
