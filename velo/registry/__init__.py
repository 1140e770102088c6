"""The model registry: file-backed lifecycle, provenance and an event outbox."""

from velo.registry.errors import RegistryError
from velo.registry.names import validate_name, validate_version
from velo.registry.record import ModelRecord
from velo.registry.store import Registry
from velo.registry.verify import ArtifactError

__all__ = ["ArtifactError", "ModelRecord", "Registry", "RegistryError", "validate_name", "validate_version"]
