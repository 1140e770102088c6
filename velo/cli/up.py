"""``velo up``: run the embedded broker and Redis until interrupted.

While it runs it supervises both (``velo.stack.Supervisor``): a dead Redis is
restarted on its port with a line on stderr, a dead broker stops the stack and
``velo up`` exits 1, since the broker's topics died with it.
"""

from __future__ import annotations

import signal
import threading

import click

from streams.embedded import start_embedded_stack, topic_overrides
from velo.config import Settings
from velo.stack import StackFailed, Supervisor


class StopSignal:
    """SIGINT and SIGTERM set one flag, so both stop the stack the same way.

    Installed before the stack announces itself, so a signal sent the moment
    the "Ctrl-C to stop" line appears is already handled.
    """

    def __enter__(self) -> StopSignal:
        self.event = threading.Event()
        self.previous = {s: signal.signal(s, lambda *_: self.event.set()) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc: object) -> None:
        for s, handler in self.previous.items():
            signal.signal(s, handler)


def _warn(line: str) -> None:
    click.echo(f"velo up: {line}", err=True)


@click.command()
@click.option("--broker-port", type=click.IntRange(0, 65535), default=None, help="0 = any free port")
@click.option("--redis-port", type=click.IntRange(0, 65535), default=None, help="0 = any free port")
def up(broker_port: int | None, redis_port: int | None) -> None:
    """Start the embedded broker (Tansu) and Redis; Ctrl-C stops both.

    A Redis that dies is restarted on the same port (data kept); a broker that
    dies ends the stack with exit status 1.
    """
    settings = Settings()
    with StopSignal() as stop:
        stack = start_embedded_stack(settings, broker_port, redis_port)
        try:
            s = stack.settings(**topic_overrides(settings))
            click.echo("# embedded stack is up; in another shell:")
            click.echo(f"export VELO_BOOTSTRAP_SERVERS={s.bootstrap_servers}")
            click.echo(f"export VELO_REDIS_URL={s.redis_url}")
            click.echo(f"# topics: {', '.join(f'{n}({p})' for n, p in s.topics.items())}")
            click.echo(
                f"# inspect with: kcat -X api.version.request=false -X broker.version.fallback=0.9.0 "
                f"-b {s.bootstrap_servers} -L"
            )
            broker_proc, redis_proc = stack.broker.process, stack.redis.process
            assert broker_proc is not None and redis_proc is not None  # both started by start_embedded_stack
            click.echo(f"# broker pid {broker_proc.pid}, redis pid {redis_proc.pid}; Ctrl-C to stop")
            Supervisor(stack, report=_warn).watch(stop.event)
        except StackFailed as exc:
            _warn(f"{exc}; run `velo up` again for a fresh stack")
            raise SystemExit(1) from None
        finally:
            stack.stop()
            click.echo("# embedded stack stopped")
