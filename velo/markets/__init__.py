"""Per-race market state built from MarketUpdate events."""

from velo.markets.state import RaceMarket, RunnerMarket

__all__ = ["RaceMarket", "RunnerMarket"]
