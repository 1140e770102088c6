"""A change to the model registry, broadcast so every worker swaps together."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.base import Contract
from schemas.types import Sha256Hex, UtcDatetime

Action = Literal["register", "set_challenger", "promote", "demote", "archive", "rollback"]
Stage = Literal["staging", "production", "archived"]
Role = Literal["champion", "challenger", "none"]


class RegistryEvent(Contract):
    event_id: str = Field(min_length=1)
    model_name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    action: Action
    stage: Stage
    role: Role = "none"
    artifact_uri: str = Field(min_length=1)
    artifact_sha256: Sha256Hex
    time: UtcDatetime
