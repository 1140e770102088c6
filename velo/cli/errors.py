"""One line for every mistake: the CLI's error boundary.

Click already turns a bad option into a usage line. Everything else a
command can meet (a broker or Redis that is down, a file that is not there,
a model that does not exist) used to end in a traceback. :class:`VeloGroup`
catches what escapes a command and prints one line naming what is wrong,
with exit status 1. ``VELO_DEBUG=1`` lets the traceback through, for bug
reports.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

import click


def one_line(exc: BaseException) -> str:
    """What went wrong, for a user: one line, no traceback."""
    kind = type(exc)
    module = kind.__module__ or ""
    if module.startswith("redis") and kind.__name__ == "AuthenticationError":
        from urllib.parse import urlsplit

        url = _setting("redis_url")
        why = "the password in VELO_REDIS_URL was refused" if urlsplit(url).password else "it requires a password"
        return (
            f"Redis at {_redis_url()} refused this client: {why}; set VELO_REDIS_URL to "
            "redis://:PASSWORD@host:port/0 (rediss:// for TLS)"
        )
    if module.startswith("redis") and kind.__name__ in ("ConnectionError", "TimeoutError"):
        url = _redis_url()
        return (
            f"cannot reach Redis at {url} ({_first_line(exc)}); start the embedded one with `velo up` "
            "(or `make demo`), or point VELO_REDIS_URL at yours"
        )
    if module.startswith("aiokafka") and kind.__name__ == "KafkaConnectionError":
        servers = _setting("bootstrap_servers")
        return (
            f"cannot reach the Kafka broker at {servers}; start the embedded one with `velo up` "
            "(or `make demo`), or point VELO_BOOTSTRAP_SERVERS at yours"
        )
    if isinstance(exc, FileNotFoundError) and exc.filename:
        return f"{exc.filename}: no such file or folder"
    if isinstance(exc, PermissionError) and exc.filename:
        return f"{exc.filename}: permission denied"
    if isinstance(exc, ConnectionError | TimeoutError | LookupError | ValueError | OSError | RuntimeError):
        return _first_line(exc)
    return f"{kind.__name__}: {_first_line(exc)} (set VELO_DEBUG=1 to see where)"


def _redis_url() -> str:
    from velo.config import redacted

    return redacted(_setting("redis_url"))


def _setting(name: str) -> str:
    """A setting as the command saw it (VELO_* or the default), for the message."""
    try:
        from velo.config import Settings

        return str(getattr(Settings(), name))
    except Exception:  # settings that do not validate have their own error; say what we can
        return os.environ.get(f"VELO_{name.upper()}", "?")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, KeyError) and exc.args:
        text = f"missing {exc.args[0]!r}"
    return text.splitlines()[0]


class VeloGroup(click.Group):
    """A click group whose commands end in one line, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:
            if os.environ.get("VELO_DEBUG"):
                raise
            click.echo(f"Error: {one_line(exc)}", err=True)
            ctx.exit(1)


@contextlib.contextmanager
def quiet_client_logs() -> Iterator[None]:
    """The Kafka client logs every failed connection attempt ("Unable connect
    to ...", hundreds while a command retries); a command's own error line
    says it once. The worker's log keeps them once it runs: there an outage
    shows."""
    loggers = [logging.getLogger(name) for name in ("aiokafka", "kafka")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
