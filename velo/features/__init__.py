"""Point-in-time features: one engine, two stores (in-process and Redis)."""

from velo.features.definitions import SQPE_FEATURES, TIE_FEATURES
from velo.features.engine import FeatureEngine, RaceFeatures
from velo.features.memory_store import MemoryStore
from velo.features.store import FeatureStore

__all__ = ["SQPE_FEATURES", "TIE_FEATURES", "FeatureEngine", "FeatureStore", "MemoryStore", "RaceFeatures"]
