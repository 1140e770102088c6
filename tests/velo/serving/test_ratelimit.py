"""The token bucket: a burst, then one request per 1/rate seconds, per caller."""

from __future__ import annotations

import pytest

from velo.serving.ratelimit import RateLimiter, retry_after


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_a_burst_then_the_steady_rate_and_how_long_to_wait() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=2.0, burst=3, clock=clock)
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a") == pytest.approx(0.5)
    assert limiter.take("b") == 0.0  # another caller has its own bucket
    clock.t += 0.5
    assert limiter.take("a") == 0.0
    assert limiter.take("a") == pytest.approx(0.5)
    clock.t += 10
    assert [limiter.take("a") for _ in range(4)][-1] > 0  # refilled to the burst, not beyond


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert (retry_after(0.01), retry_after(1.0), retry_after(1.2)) == ("1", "1", "2")


def test_idle_callers_are_forgotten_past_the_cap() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=1.0, burst=1, clock=clock)
    limiter.MAX_CALLERS = 3
    for c in "abc":
        limiter.take(c)
    clock.t += 5  # all full again
    limiter.take("d")
    assert len(limiter._buckets) == 1


def test_a_limit_that_allows_nothing_is_refused() -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate=0, burst=1)
