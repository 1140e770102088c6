"""What the market says about one race, as of the last update applied.

Plain data (``to_dict``/``from_dict``) so the stream can keep it in a Faust
table and the offline replay can keep it in a dict: one implementation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from schemas import MarketUpdate


@dataclass
class RunnerMarket:
    first_price: float | None = None
    first_time: float | None = None
    price: float | None = None  # best available back, else last traded
    back: float | None = None
    lay: float | None = None
    volume: float = 0.0
    #: (time, price) points, newest last; bounded
    path: list[tuple[float, float]] = field(default_factory=list)

    MAX_PATH = 32


@dataclass
class RaceMarket:
    race_id: str
    runners: dict[str, RunnerMarket] = field(default_factory=dict)
    last_time: float | None = None
    updates: int = 0

    def apply(self, u: MarketUpdate) -> None:
        """Fold one update in. Updates older than the newest seen are ignored
        (a redelivered or reordered message must not move the price back)."""
        t = u.publish_time.timestamp()
        r = self.runners.setdefault(u.runner_id, RunnerMarket())
        if r.path and t < r.path[-1][0]:
            return
        price = u.back_price or u.last_traded_price
        if u.back_price is not None:
            r.back = u.back_price
        if u.lay_price is not None:
            r.lay = u.lay_price
        if u.traded_volume is not None:
            r.volume = u.traded_volume
        if price is not None and not u.in_play:
            if r.first_price is None:
                r.first_price, r.first_time = price, t
            r.price = price
            if not r.path or r.path[-1] != (t, price):
                r.path.append((t, price))
                del r.path[: -RunnerMarket.MAX_PATH]
        self.last_time = t if self.last_time is None else max(self.last_time, t)
        self.updates += 1

    def copy(self) -> RaceMarket:
        """An independent copy (a prediction's snapshot of the state); a
        tenth of ``copy.deepcopy``'s cost."""
        runners = {
            k: RunnerMarket(v.first_price, v.first_time, v.price, v.back, v.lay, v.volume, list(v.path))
            for k, v in self.runners.items()
        }
        return RaceMarket(self.race_id, runners, self.last_time, self.updates)

    def to_dict(self) -> dict[str, Any]:
        return orjson.loads(self.encode())

    def encode(self) -> bytes:
        """JSON bytes of :meth:`to_dict`. orjson writes dataclasses natively;
        ``dataclasses.asdict`` deep-copied every price path and was 60% of
        applying a market update."""
        return orjson.dumps(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RaceMarket:
        runners = {
            k: RunnerMarket(**{**v, "path": [tuple(p) for p in v.get("path", [])]})
            for k, v in d.get("runners", {}).items()
        }
        return cls(d["race_id"], runners, d.get("last_time"), d.get("updates", 0))
