"""Message contracts: one versioned definition per message on the wire."""

from schemas.base import Contract, ContractError, FieldError
from schemas.dead_letter import DeadLetter
from schemas.market_update import MarketUpdate
from schemas.prediction import Prediction, Recommendation, RunnerPrediction
from schemas.prediction_log import PredictionLog
from schemas.race_card import Race, RaceCard, Runner
from schemas.race_result import Finisher, RaceResult
from schemas.registry_event import RegistryEvent

#: Every top-level message, by the name used for its JSON Schema file.
CONTRACTS: dict[str, type[Contract]] = {
    "race_card": RaceCard,
    "market_update": MarketUpdate,
    "race_result": RaceResult,
    "prediction": Prediction,
    "prediction_log": PredictionLog,
    "registry_event": RegistryEvent,
    "dead_letter": DeadLetter,
}

__all__ = [
    "CONTRACTS",
    "Contract",
    "ContractError",
    "DeadLetter",
    "FieldError",
    "Finisher",
    "MarketUpdate",
    "Prediction",
    "PredictionLog",
    "Race",
    "RaceCard",
    "RaceResult",
    "Recommendation",
    "RegistryEvent",
    "Runner",
    "RunnerPrediction",
]
