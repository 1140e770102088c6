"""The circuit breaker opens on what a probe or a request finds, and closes on a clean probe."""

from __future__ import annotations

from velo.serving.breaker import CircuitBreaker


def test_open_while_a_dependency_is_down_closed_after_a_clean_probe() -> None:
    now = [0.0]
    b = CircuitBreaker(clock=lambda: now[0])
    assert not b.open and b.open_for() == 0.0
    b.record(["redis unreachable: refused"])
    now[0] = 2.0
    assert b.open and b.reasons == ["redis unreachable: refused"] and b.open_for() == 2.0
    b.trip("broker timed out")
    b.trip("broker timed out")
    assert b.reasons == ["redis unreachable: refused", "broker timed out"]
    b.record([])
    assert not b.open and b.open_for() == 0.0
