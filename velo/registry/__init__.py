"""The model registry: file-backed lifecycle, provenance and an event outbox."""

from velo.registry.errors import RegistryError
from velo.registry.record import ModelRecord
from velo.registry.store import Registry

__all__ = ["ModelRecord", "Registry", "RegistryError"]
