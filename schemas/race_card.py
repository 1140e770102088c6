"""The race card: everything known about a race before the off.

Revision 1 added ``Runner.body_weight``. It is an addition: ``schema_version``
(the breaking version) stays 1, a consumer built for revision 0 reads
revision 1 cards unchanged (unknown fields are ignored), and a revision 0
card read here has no body weight.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field, field_validator

from schemas.base import Contract, Part
from schemas.types import INT64_MAX, AsInt, UtcDatetime

NonEmpty = Field(min_length=1, max_length=128)


class Race(Part):
    """Race-level facts. ``distance_m`` is metres whatever the source used."""

    race_id: str = NonEmpty
    off_time: UtcDatetime
    course: str = NonEmpty
    distance_m: Annotated[int, Field(gt=0, le=10_000), AsInt]
    going: str | None = None
    race_class: str | None = None
    surface: str | None = None
    race_type: str | None = None
    prize: float | None = Field(default=None, ge=0)


class Runner(Part):
    """One declared runner. ``weight_carried`` is in kilograms."""

    runner_id: str = NonEmpty
    name: str | None = None
    draw: Annotated[int, Field(ge=0, le=60), AsInt] | None = None
    weight_carried: float | None = Field(default=None, gt=0, le=120)
    age: Annotated[int, Field(ge=1, le=30), AsInt] | None = None
    sex: str | None = None
    rating: float | None = None
    jockey_id: str | None = None
    trainer_id: str | None = None
    gear: str | None = None
    price: float | None = Field(default=None, gt=1.0, description="decimal price known before the off")
    body_weight: float | None = Field(
        default=None, gt=0, le=1500, description="declared body weight of the horse, kg, weighed before the race"
    )


class RaceCard(Contract):
    """A race and its declared runners.

    Beyond the JSON Schema (which cannot say it): every ``runner_id`` appears once.
    """

    race: Race
    runners: list[Runner] = Field(min_length=1, max_length=60)
    schema_revision: Annotated[int, Field(ge=0, le=INT64_MAX), AsInt] = Field(
        default=1, description="additive revisions within schema_version; 1 added runners[].body_weight"
    )

    #: the revision this code writes
    SCHEMA_REVISION: ClassVar[int] = 1

    @field_validator("runners")
    @classmethod
    def _unique_runners(cls, runners: list[Runner]) -> list[Runner]:
        seen: set[str] = set()
        for r in runners:
            if r.runner_id in seen:
                raise ValueError(f"runner_id {r.runner_id!r} appears more than once")
            seen.add(r.runner_id)
        return runners

    @property
    def race_id(self) -> str:
        return self.race.race_id
