"""One runner's market state at one instant, as an exchange or tote reports it.

Revision 1 added ``moment_size``. It is an addition: ``schema_version`` (the
breaking version) stays 1, a consumer built for revision 0 reads revision 1
updates unchanged (unknown fields are ignored), and a revision 0 update read
here has no moment size.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from schemas.base import Contract
from schemas.types import INT64_MAX, AsInt, UtcDatetime

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
    moment_size: Annotated[int, Field(ge=1, le=10_000), AsInt] | None = Field(
        default=None,
        description="how many updates of this race the publisher sent with this publish_time (the runner changes "
        "of one exchange message); null if it does not know. The worker judges the market moment as soon as "
        "that many have arrived, instead of waiting for a later update or for the moment to go quiet",
    )
    schema_revision: Annotated[int, Field(ge=0, le=INT64_MAX), AsInt] = Field(
        default=1, description="additive revisions within schema_version; 1 added moment_size"
    )

    #: the revision this code writes
    SCHEMA_REVISION: ClassVar[int] = 1

    @model_validator(mode="after")
    def _crossed_book(self) -> MarketUpdate:
        if self.back_price is not None and self.lay_price is not None and self.back_price > self.lay_price:
            raise ValueError(f"crossed book: back_price {self.back_price} > lay_price {self.lay_price}")
        return self
