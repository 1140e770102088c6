"""One valid example of every contract.

Used by the docs, the round-trip tests and the first demo step, so a reader
sees a real message, not a description of one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.base import Contract
from schemas.dead_letter import DeadLetter
from schemas.market_update import MarketUpdate
from schemas.prediction import Prediction, Recommendation, RunnerPrediction
from schemas.prediction_log import PredictionLog
from schemas.race_card import Race, RaceCard, Runner
from schemas.race_result import Finisher, RaceResult
from schemas.registry_event import RegistryEvent

OFF = datetime(2025, 3, 8, 5, 30, tzinfo=UTC)


def race_card() -> RaceCard:
    runners = [
        Runner(
            runner_id="h101",
            name="Golden Sixty",
            draw=3,
            weight_carried=57.0,
            age=5,
            sex="G",
            rating=118,
            jockey_id="j7",
            trainer_id="t3",
            gear="TT",
            price=2.6,
        ),
        Runner(
            runner_id="h102",
            name="Romantic Warrior",
            draw=7,
            weight_carried=57.0,
            age=5,
            sex="G",
            rating=121,
            jockey_id="j2",
            trainer_id="t9",
            gear="B",
            price=3.1,
        ),
        Runner(
            runner_id="h103",
            name="California Spangle",
            draw=1,
            weight_carried=56.0,
            age=6,
            sex="G",
            rating=112,
            jockey_id="j4",
            trainer_id="t3",
            price=6.5,
        ),
        Runner(
            runner_id="h104",
            name="Voyage Bubble",
            draw=10,
            weight_carried=55.5,
            age=6,
            sex="G",
            rating=110,
            jockey_id="j1",
            trainer_id="t5",
            gear="B/TT",
            price=9.0,
        ),
    ]
    race = Race(
        race_id="ST-2025-03-08-R8",
        off_time=OFF,
        course="Sha Tin",
        distance_m=1600,
        going="GOOD",
        race_class="G1",
        surface="turf",
        race_type="flat",
        prize=13_000_000,
    )
    return RaceCard(race=race, runners=runners)


def market_update() -> MarketUpdate:
    return MarketUpdate(
        race_id="ST-2025-03-08-R8",
        market_id="1.2345",
        runner_id="h101",
        publish_time=OFF - timedelta(minutes=5),
        back_price=2.58,
        back_size=812.0,
        lay_price=2.62,
        lay_size=404.5,
        last_traded_price=2.6,
        traded_volume=152_330.0,
    )


def race_result() -> RaceResult:
    return RaceResult(
        race_id="ST-2025-03-08-R8",
        off_time=OFF,
        finishers=[
            Finisher(runner_id="h102", position=1, sp=3.3),
            Finisher(runner_id="h101", position=2, sp=2.5),
            Finisher(runner_id="h103", position=3, sp=7.0),
        ],
        non_runners=["h104"],
    )


def prediction() -> Prediction:
    runners = [
        RunnerPrediction(
            runner_id="h101",
            sqpe_prob=0.36,
            tie_intent=0.52,
            nds_signal=0.1,
            market_prob=0.37,
            final_prob=0.38,
            price=2.6,
            recommendation=Recommendation(side="none", stake_fraction=0.0),
        ),
        RunnerPrediction(
            runner_id="h102",
            sqpe_prob=0.34,
            tie_intent=0.61,
            nds_signal=0.3,
            market_prob=0.31,
            final_prob=0.35,
            price=3.1,
            recommendation=Recommendation(side="back", stake_fraction=0.012),
        ),
    ]
    return Prediction(
        request_id="ST-2025-03-08-R8:9f2c",
        race_id="ST-2025-03-08-R8",
        model_name="sqpe",
        model_version="3",
        created_at=OFF - timedelta(minutes=2),
        runners=runners,
        timings_ms={"features": 0.4, "model": 0.9, "total": 1.6},
    )


def prediction_log() -> PredictionLog:
    return PredictionLog(
        timestamp=OFF - timedelta(minutes=2),
        request_id="ST-2025-03-08-R8:9f2c",
        race_id="ST-2025-03-08-R8",
        horse_id="h102",
        model_name="sqpe",
        model_version="3",
        is_champion=True,
        sqpe_prob=0.34,
        tie_intent=0.61,
        final_prob=0.35,
        result_position=1,
        won=True,
    )


def registry_event() -> RegistryEvent:
    return RegistryEvent(
        event_id="e-0001",
        model_name="sqpe",
        version="3",
        action="promote",
        stage="production",
        role="champion",
        artifact_uri="file://models/sqpe/3/model.skops",
        artifact_sha256="a" * 64,
        time=OFF,
    )


def dead_letter() -> DeadLetter:
    return DeadLetter(
        original=b'{"race": 1}\xff',
        source_topic="race-cards",
        source_partition=2,
        source_offset=41,
        error="invalid RaceCard: race: Input should be a valid dictionary",
        time=OFF,
    )


EXAMPLES: dict[str, Contract] = {
    "race_card": race_card(),
    "market_update": market_update(),
    "race_result": race_result(),
    "prediction": prediction(),
    "prediction_log": prediction_log(),
    "registry_event": registry_event(),
    "dead_letter": dead_letter(),
}
