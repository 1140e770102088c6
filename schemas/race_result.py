"""The official result. Dead heats are runners sharing a position.

Revision 1 added how each horse ran, where the source has it: finishing
time, beaten lengths, positions at the running calls and sectional times
(``Finisher``). They are additions: ``schema_version`` stays 1, consumers of
revision 0 read revision 1 results unchanged, and a revision 0 result read
here has them empty.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field, model_validator
from pydantic.json_schema import JsonDict

from schemas.base import Contract, Part
from schemas.types import INT64_MAX, AsInt, UtcDatetime

Position = Annotated[int, Field(ge=1, le=60), AsInt]


class Finisher(Part):
    """A runner that started. ``sp`` is the official starting price (or final
    tote / BSP) published with the result: it is settlement data for this race
    and form-book history for later races, never a feature of this race."""

    runner_id: str = Field(min_length=1, max_length=128)
    position: Position | None = Field(description="null = ran, position not known or did not finish")
    sp: float | None = Field(default=None, gt=1.0, description="official starting price, decimal")
    finish_time: float | None = Field(default=None, gt=0, le=3600, description="the runner's finishing time, seconds")
    beaten_lengths: float | None = Field(
        default=None, ge=0, le=500, description="lengths behind the winner at the finish (0 for the winner)"
    )
    running_positions: list[Position] | None = Field(
        default=None, max_length=12, description="positions at the running calls, first call first"
    )
    sectional_times: list[Annotated[float, Field(gt=0, le=3600)]] | None = Field(
        default=None, max_length=12, description="the runner's time for each section, seconds, first section first"
    )


#: "some finisher has position 1", in JSON Schema terms.
_HAS_WINNER: JsonDict = {
    "contains": {"type": "object", "required": ["position"], "properties": {"position": {"const": 1}}}
}


class RaceResult(Contract):
    """Who finished where, and who did not run.

    Beyond the JSON Schema (which cannot say it): a ``runner_id`` appears once
    in ``finishers`` and is not also in ``non_runners``.
    """

    race_id: str = Field(min_length=1, max_length=128)
    off_time: UtcDatetime
    finishers: list[Finisher] = Field(min_length=1, max_length=60, json_schema_extra=_HAS_WINNER)
    non_runners: list[str] = Field(default_factory=list)
    schema_revision: Annotated[int, Field(ge=0, le=INT64_MAX), AsInt] = Field(
        default=1,
        description="additive revisions within schema_version; 1 added finish_time, beaten_lengths, "
        "running_positions and sectional_times to finishers",
    )

    #: the revision this code writes
    SCHEMA_REVISION: ClassVar[int] = 1

    @model_validator(mode="after")
    def _consistent(self) -> RaceResult:
        ids = [f.runner_id for f in self.finishers]
        if len(set(ids)) != len(ids):
            raise ValueError("a runner_id appears more than once in finishers")
        overlap = set(ids) & set(self.non_runners)
        if overlap:
            raise ValueError(f"runners both finished and non-runner: {sorted(overlap)}")
        if not any(f.position == 1 for f in self.finishers):
            raise ValueError("no finisher has position 1")
        return self

    @property
    def winners(self) -> list[str]:
        return [f.runner_id for f in self.finishers if f.position == 1]

    @property
    def dead_heat(self) -> bool:
        """True when two or more runners share any placed position."""
        placed = [f.position for f in self.finishers if f.position is not None]
        return len(placed) != len(set(placed))
