"""What the engine says about a race: emitted once per card by the champion."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.base import Contract, Part
from schemas.types import UtcDatetime

Prob = Field(ge=0.0, le=1.0)


class Recommendation(Part):
    side: Literal["back", "none"] = "none"
    stake_fraction: float = Field(default=0.0, ge=0.0, le=1.0, description="fraction of bankroll")


class RunnerPrediction(Part):
    runner_id: str = Field(min_length=1, max_length=128)
    sqpe_prob: float = Prob
    tie_intent: float = Prob
    nds_signal: float = Field(ge=-1.0, le=1.0)
    market_prob: float | None = Field(default=None, ge=0.0, le=1.0)
    final_prob: float = Prob
    price: float | None = Field(default=None, gt=1.0, description="decimal price the recommendation used")
    recommendation: Recommendation = Field(default_factory=Recommendation)


class Prediction(Contract):
    request_id: str = Field(min_length=1, max_length=128, description="stable per card: redeliveries share it")
    race_id: str = Field(min_length=1, max_length=128)
    model_name: str = Field(min_length=1)
    model_version: str = Field(min_length=1)
    created_at: UtcDatetime
    runners: list[RunnerPrediction] = Field(min_length=1, max_length=60)
    timings_ms: dict[str, float] = Field(default_factory=dict, description="stage name -> milliseconds")
