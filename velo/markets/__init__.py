"""A race's market: its state built from MarketUpdate events, what its
prices mean, its movement signals and the models' view of it."""

from velo.markets.state import RaceMarket, RunnerMarket

__all__ = ["RaceMarket", "RunnerMarket"]
