"""When a challenger replaces the champion.

Promote only on evidence: enough races scored by both, and the one-sided
lower confidence bound of the challenger's per-race log-loss improvement
above a required margin. Under equal models that bound is above zero in
about ``1 - confidence`` of comparisons, which is the false-promotion rate
the policy accepts (measured in tests/velo/mlops). A challenger that is
confidently *worse* (the upper end of the interval below zero) is archived
so that the slot is freed; anything else keeps the champion and lets the
shadow gather more races.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

from velo.mlops.compare import Comparison

Action = Literal["promote", "keep", "archive"]


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
    champion: str
    challenger: str
    n_races: int

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PromotionPolicy:
    min_races: int = 300
    #: Required improvement in log-loss per race (nats) that the lower bound must exceed.
    min_improvement: float = 0.0
    confidence: float = 0.95

    def __post_init__(self) -> None:
        if self.min_races < 1:
            raise ValueError(f"min_races must be at least 1, got {self.min_races}")
        if not 0.5 <= self.confidence < 1.0:
            raise ValueError(f"confidence must be in [0.5, 1), got {self.confidence}")
        if self.min_improvement < 0:
            raise ValueError(f"min_improvement must be >= 0, got {self.min_improvement}")

    def decide(self, c: Comparison) -> Decision:
        t = c.test
        if abs(t.confidence - self.confidence) > 1e-12:
            raise ValueError(
                f"the comparison was made at confidence {t.confidence}, the policy needs {self.confidence}"
            )
        figures = (
            f"challenger v{c.challenger} vs champion v{c.champion} over {t.n_races} races: "
            f"log-loss improvement {t.mean_improvement:+.4f} nats/race, "
            f"{self.confidence:.0%} lower bound {t.lower_bound:+.4f}, "
            f"two-sided CI [{t.ci_low:+.4f}, {t.ci_high:+.4f}]"
        )

        def out(action: Action, why: str) -> Decision:
            return Decision(action, f"{action}: {why}; {figures}", c.champion, c.challenger, t.n_races)

        if t.n_races < self.min_races:
            return out("keep", f"only {t.n_races} races scored by both, the policy needs {self.min_races}")
        if t.lower_bound > self.min_improvement:
            return out(
                "promote", f"the lower bound {t.lower_bound:+.4f} exceeds the required {self.min_improvement:+.4f}"
            )
        if t.ci_high < 0:
            return out(
                "archive",
                f"the challenger is worse with {self.confidence:.0%} confidence (upper end {t.ci_high:+.4f} < 0)",
            )
        return out(
            "keep", f"the lower bound {t.lower_bound:+.4f} does not exceed the required {self.min_improvement:+.4f}"
        )
