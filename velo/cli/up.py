"""``velo up``: run the embedded broker and Redis until interrupted."""

from __future__ import annotations

import signal
import threading

import click

from streams.embedded import start_embedded_stack, topic_overrides
from velo.config import Settings


def wait_for_stop_signal() -> None:
    """Block until SIGINT or SIGTERM, so both stop the stack the same way."""
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@click.command()
@click.option("--broker-port", type=click.IntRange(0, 65535), default=None, help="0 = any free port")
@click.option("--redis-port", type=click.IntRange(0, 65535), default=None, help="0 = any free port")
def up(broker_port: int | None, redis_port: int | None) -> None:
    """Start the embedded broker (Tansu) and Redis; Ctrl-C stops both."""
    settings = Settings()
    stack = start_embedded_stack(settings, broker_port, redis_port)
    try:
        s = stack.settings(**topic_overrides(settings))
        click.echo("# embedded stack is up; in another shell:")
        click.echo(f"export VELO_BOOTSTRAP_SERVERS={s.bootstrap_servers}")
        click.echo(f"export VELO_REDIS_URL={s.redis_url}")
        click.echo(f"# topics: {', '.join(f'{n}({p})' for n, p in s.topics.items())}")
        click.echo(f"# inspect with: kcat -b {s.bootstrap_servers} -L")
        click.echo(f"# broker pid {stack.broker.process.pid}, redis pid {stack.redis.process.pid}; Ctrl-C to stop")
        wait_for_stop_signal()
    finally:
        stack.stop()
        click.echo("# embedded stack stopped")
