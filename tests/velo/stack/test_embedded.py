"""The stack's processes are real, answer, and never outlive their owner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import redis

from velo.stack import EmbeddedStack
from velo.stack.ports import wait_for_port


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie counts as gone
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _wait_gone(pids: list[int], timeout: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [p for p in pids if _alive(p)]
        if not left:
            return []
        time.sleep(0.05)
    return [p for p in pids if _alive(p)]


def test_start_answers_and_stop_leaves_nothing() -> None:
    stack = EmbeddedStack().start()
    pids = [stack.broker.process.pid, stack.redis.process.pid]
    workdir = stack.workdir
    try:
        assert wait_for_port(stack.broker.port, 1)
        assert redis.Redis.from_url(stack.redis.url).ping()
    finally:
        stack.stop()
    assert _wait_gone(pids) == []
    assert not workdir.exists()


def test_children_die_when_the_owner_is_killed() -> None:
    code = (
        "from velo.stack import EmbeddedStack; import time, sys;"
        "s = EmbeddedStack().start();"
        "print(s.broker.process.pid, s.redis.process.pid, flush=True);"
        "time.sleep(60)"
    )
    owner = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(p) for p in owner.stdout.readline().split()]
        assert len(pids) == 2 and all(_alive(p) for p in pids)
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        assert _wait_gone(pids) == [], "broker/redis outlived a SIGKILLed owner"
    finally:
        owner.kill()
        owner.wait()


def test_redis_data_survive_a_redis_restart(tmp_path) -> None:
    from velo.stack import RedisServer

    server = RedisServer(tmp_path)
    server.start()
    redis.Redis.from_url(server.url).set("k", "v")
    server.kill()
    server.start()
    try:
        assert redis.Redis.from_url(server.url).get("k") == b"v"
    finally:
        server.stop()
