"""The stack's processes are real, answer, and never outlive their owner."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys

import redis

from tests.velo.stack.procs import alive, wait_gone
from velo.stack import EmbeddedStack
from velo.stack.ports import wait_for_port


def test_start_answers_and_stop_leaves_nothing() -> None:
    stack = EmbeddedStack().start()
    pids = [stack.broker.process.pid, stack.redis.process.pid]
    workdir = stack.workdir
    try:
        assert wait_for_port(stack.broker.port, 1)
        assert redis.Redis.from_url(stack.redis.url).ping()
    finally:
        stack.stop()
    assert wait_gone(pids) == []
    assert not workdir.exists()


def test_children_die_when_the_owner_is_killed() -> None:
    code = (
        "from velo.stack import EmbeddedStack; import time, sys;"
        "s = EmbeddedStack().start();"
        "print(s.broker.process.pid, s.redis.process.pid, s.workdir, flush=True);"
        "time.sleep(60)"
    )
    owner = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    workdir = ""
    try:
        *pid_text, workdir = owner.stdout.readline().split()
        pids = [int(p) for p in pid_text]
        assert len(pids) == 2 and all(alive(p) for p in pids)
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        assert wait_gone(pids) == [], "broker/redis outlived a SIGKILLed owner"
    finally:
        owner.kill()
        owner.wait()
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)  # a SIGKILLed owner cannot clean up


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


def test_a_new_stack_on_a_reused_workdir_starts_with_empty_redis(tmp_path) -> None:
    """The append-only file is for restarts within one stack, not across stacks."""
    with EmbeddedStack(workdir=tmp_path) as first:
        redis.Redis.from_url(first.redis.url).set("left-over", "1")
    with EmbeddedStack(workdir=tmp_path) as second:
        assert redis.Redis.from_url(second.redis.url).get("left-over") is None


def test_ports_taken_between_choosing_and_starting_are_chosen_again() -> None:
    """Another suite or stack may bind a port this stack picked before it
    started; a port we picked (not one asked for) is picked again."""
    import socket

    stack = EmbeddedStack()
    squatters = []
    for port in (stack.broker.port, stack.redis.port):
        s = socket.socket()
        s.bind(("127.0.0.1", port))
        s.listen()
        squatters.append((s, port))
    try:
        stack.start()
        try:
            assert stack.broker.port != squatters[0][1] and stack.redis.port != squatters[1][1]
            assert redis.Redis(port=stack.redis.port).ping()
            assert wait_for_port(stack.broker.port, 5)
        finally:
            stack.stop()
    finally:
        for s, _ in squatters:
            s.close()
