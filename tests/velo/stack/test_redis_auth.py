"""Redis with a password (``requirepass``): the store works with it in the
URL, and without it every command says which setting to fix in one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import redis
from click.testing import CliRunner

from velo.cli import main
from velo.features.redis_store import RedisStore
from velo.features.store import Items, Reads
from velo.stack.redis import RedisServer

PASSWORD = "p@ss word/1"


@pytest.fixture(scope="module")
def secured(tmp_path_factory) -> RedisServer:
    server = RedisServer(tmp_path_factory.mktemp("redis-auth"), password=PASSWORD)
    server.start()
    yield server
    server.stop()


def test_the_store_works_with_the_password_in_the_url(secured: RedisServer) -> None:
    store = RedisStore.from_url(secured.url, prefix="auth-test:")
    assert store.apply("r1", Items.of([("H:h1", 10.0, "r1", (1, 1, 0, 0, 0, 0, 0), None)]))
    assert store.read(Reads(["H:h1"], np.array([11.0]))).cums.tolist() == [[1, 1, 0, 0, 0, 0, 0]]


def test_without_the_password_redis_refuses_and_says_so(secured: RedisServer, tmp_path: Path) -> None:
    bare = secured.url.replace(secured.url.split("//", 1)[1].split("@", 1)[0] + "@", "")
    with pytest.raises(redis.AuthenticationError):
        RedisStore.from_url(bare).client.ping()
    env = {"VELO_REDIS_URL": bare, "VELO_REGISTRY_DIR": str(tmp_path / "reg")}
    out = CliRunner().invoke(main, ["worker", "--wait-for-model"], env=env)
    assert out.exit_code == 1
    assert out.output.strip().splitlines() == [
        f"Error: Redis at {bare} refused this client: it requires a password; "
        "set VELO_REDIS_URL to redis://:PASSWORD@host:port/0 (rediss:// for TLS)"
    ]
    wrong = secured.url.replace("p%40ss", "nope")
    out = CliRunner().invoke(main, ["worker", "--wait-for-model"], env={**env, "VELO_REDIS_URL": wrong})
    assert out.exit_code == 1 and "the password in VELO_REDIS_URL was refused" in out.output
    assert "nope" not in out.output and "Traceback" not in out.output
