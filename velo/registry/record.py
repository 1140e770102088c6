"""One registered model version and its provenance."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Stage = Literal["staging", "production", "archived"]
Role = Literal["champion", "challenger", "none"]


class ModelRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    version: str
    stage: Stage = "staging"
    role: Role = "none"
    metrics: dict[str, Any] = {}
    feature_hash: str = ""
    data_range: dict[str, str | None] = {}
    data_sha256: str = ""
    git_commit: str = ""
    library_versions: dict[str, str] = {}
    created: str
    artifact_uri: str
    #: sha256 of the manifest (file name -> sha256 of each artifact file)
    artifact_sha256: str
    artifact_size: int
    files: dict[str, str] = {}
