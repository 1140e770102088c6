"""What the engine says about a race: emitted by the champion for each card,
and again as the race's market moves and at checkpoints before the off.

Revision 1 added ``sequence``, ``trigger``, ``market_time`` and ``final``.
They are additions: ``schema_version`` (the breaking version) stays 1, and a
consumer built for revision 0 reads revision 1 messages unchanged (unknown
fields are ignored). A revision 0 message read here gets the defaults that
describe it: the one prediction of its card, hence final.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from schemas.base import Contract, Part
from schemas.types import INT64_MAX, AsInt, UtcDatetime

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
    request_id: str = Field(
        min_length=1, max_length=128, description="stable per card, sequence and market state: redeliveries share it"
    )
    race_id: str = Field(min_length=1, max_length=128)
    model_name: str = Field(min_length=1)
    model_version: str = Field(min_length=1)
    created_at: UtcDatetime
    runners: list[RunnerPrediction] = Field(min_length=1, max_length=60)
    timings_ms: dict[str, float] = Field(default_factory=dict, description="stage name -> milliseconds")
    sequence: Annotated[int, Field(ge=0, le=INT64_MAX), AsInt] = Field(
        default=0, description="per race, increasing: the order of this race's predictions"
    )
    trigger: Literal["card", "market", "checkpoint"] = Field(
        default="card", description="what made it: the card, a material market move, or a checkpoint before the off"
    )
    market_time: UtcDatetime | None = Field(
        default=None, description="publish time of the newest market update in the state used (null: no market)"
    )
    final: bool = Field(
        default=True,
        description="the last prediction before the off, at decision-time prices; "
        "only a final prediction carries stakes",
    )
    schema_revision: Annotated[int, Field(ge=0, le=INT64_MAX), AsInt] = Field(
        default=1, description="additive revisions within schema_version; 1 added sequence to final"
    )

    #: the revision this code writes
    SCHEMA_REVISION: ClassVar[int] = 1
