"""The supervision policy: a dead Redis comes back loudly, a dead broker stops the stack."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest
import redis

from tests.velo.stack.procs import state, wait_gone
from velo.stack import EmbeddedStack, StackFailed, Supervisor


@pytest.fixture()
def stack() -> Iterator[EmbeddedStack]:
    with EmbeddedStack() as st:
        yield st


def _check_until(supervisor: Supervisor, reports: list[str], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not reports and time.monotonic() < deadline:
        supervisor.check()
        time.sleep(0.02)


def test_a_killed_redis_is_restarted_on_its_port_and_reported(stack: EmbeddedStack) -> None:
    reports: list[str] = []
    supervisor = Supervisor(stack, report=reports.append)
    port, old = stack.redis.port, stack.redis.process.pid
    redis.Redis.from_url(stack.redis.url).set("k", "v")
    os.kill(old, signal.SIGKILL)
    _check_until(supervisor, reports)
    assert len(reports) == 1, reports
    line = reports[0]
    assert "\n" not in line
    assert f"redis (pid {old}) died" in line and "SIGKILL" in line
    assert f"port {port}" in line and "append-only file" in line
    assert state(old) is None
    assert stack.redis.port == port
    assert redis.Redis.from_url(stack.redis.url).get("k") == b"v"


def test_without_persistence_the_report_says_the_data_are_gone(tmp_path) -> None:
    with EmbeddedStack(workdir=tmp_path) as stack:
        stack.redis.appendonly = False
        stack.restart_redis()
        reports: list[str] = []
        supervisor = Supervisor(stack, report=reports.append)
        os.kill(stack.redis.process.pid, signal.SIGKILL)
        _check_until(supervisor, reports)
        assert "data are gone" in reports[0], reports


def test_a_killed_broker_stops_the_stack_with_one_clear_line(stack: EmbeddedStack) -> None:
    supervisor = Supervisor(stack, report=lambda _: None)
    broker, rpid = stack.broker.process.pid, stack.redis.process.pid
    os.kill(broker, signal.SIGKILL)
    with pytest.raises(StackFailed) as failed:
        _check_until(supervisor, [], timeout=5)
    message = str(failed.value)
    assert "\n" not in message
    assert f"broker (pid {broker}) died" in message and "SIGKILL" in message
    assert "memory" in message and "stopped" in message
    assert state(broker) is None
    assert wait_gone([rpid]) == [], "redis kept running after the broker died"


def test_a_redis_that_keeps_dying_is_given_up_on(stack: EmbeddedStack) -> None:
    reports: list[str] = []
    supervisor = Supervisor(stack, report=reports.append, max_restarts=2, window=60.0)
    with pytest.raises(StackFailed, match=r"redis .* 3 times"):
        for _ in range(3):
            os.kill(stack.redis.process.pid, signal.SIGKILL)
            before = len(reports)
            deadline = time.monotonic() + 5
            while len(reports) == before and time.monotonic() < deadline:
                supervisor.check()
                time.sleep(0.02)
    assert len(reports) == 2


def test_a_redis_killed_through_the_api_is_left_down(stack: EmbeddedStack) -> None:
    """A harness that kills Redis on purpose decides when it comes back."""
    reports: list[str] = []
    supervisor = Supervisor(stack, report=reports.append)
    stack.kill_redis()
    supervisor.check()
    assert reports == [] and not stack.redis.process.alive()
