"""One runner's market state at one instant, as an exchange or tote reports it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from schemas.base import Contract
from schemas.types import UtcDatetime

Price = Field(default=None, gt=1.0, le=1000.0)
Size = Field(default=None, ge=0)


class MarketUpdate(Contract):
    """One runner's prices and volumes at ``publish_time``.

    Beyond the JSON Schema (which cannot say it): ``back_price`` is not above
    ``lay_price`` when both are given (a crossed book).
    """

    race_id: str = Field(min_length=1, max_length=128)
    market_id: str | None = None
    runner_id: str = Field(min_length=1, max_length=128)
    publish_time: UtcDatetime
    back_price: float | None = Price
    back_size: float | None = Size
    lay_price: float | None = Price
    lay_size: float | None = Size
    last_traded_price: float | None = Price
    traded_volume: float | None = Size
    status: Literal["OPEN", "SUSPENDED", "CLOSED"] = "OPEN"
    in_play: bool = False

    @model_validator(mode="after")
    def _crossed_book(self) -> MarketUpdate:
        if self.back_price is not None and self.lay_price is not None and self.back_price > self.lay_price:
            raise ValueError(f"crossed book: back_price {self.back_price} > lay_price {self.lay_price}")
        return self
