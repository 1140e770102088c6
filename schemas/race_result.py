"""The official result. Dead heats are runners sharing a position."""

from __future__ import annotations

from pydantic import Field, model_validator

from schemas.base import Contract, Part, UtcDatetime


class Finisher(Part):
    runner_id: str = Field(min_length=1, max_length=128)
    position: int | None = Field(ge=1, le=60, description="null = ran but did not finish")


class RaceResult(Contract):
    race_id: str = Field(min_length=1, max_length=128)
    off_time: UtcDatetime
    finishers: list[Finisher] = Field(min_length=1, max_length=60)
    non_runners: list[str] = Field(default_factory=list)

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
