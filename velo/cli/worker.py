"""``velo worker``: run the streaming worker (Faust) on the configured stack."""

from __future__ import annotations

import asyncio
import sys

import click

from velo.config import Settings


def check_model_name(settings: Settings, model_name: str, wait_for_model: bool) -> str:
    """Refuse a name the registry has never heard of, before consuming anything.

    A typo (``--model nosuch``) used to start quietly and dead-letter every
    card in the topic. A known name with no champion yet is fine: the worker
    starts, is not ready, and cards wait until one is promoted.
    """
    from velo.registry import Registry, RegistryError
    from velo.registry.names import validate_name
    from velo.registry.refs import served_name

    try:
        model_name = served_name(model_name)
        validate_name(model_name)
    except RegistryError as exc:
        raise click.BadParameter(str(exc), param_hint="--model") from None
    known = Registry(settings.registry_dir).names()
    if model_name not in known and not wait_for_model:
        listed = ", ".join(known) if known else "none"
        raise click.BadParameter(
            f"no model named {model_name!r} in the registry at {settings.registry_dir} (known: {listed}); "
            "register one first, or pass --wait-for-model to start anyway and wait for it",
            param_hint="--model",
        )
    return model_name


@click.command()
@click.option(
    "--model",
    "model_name",
    default="velo",
    show_default=True,
    help="registry name to serve: its champion, with its challenger in shadow (NAME or NAME@champion)",
)
@click.option(
    "--wait-for-model",
    is_flag=True,
    help="start even if the registry does not know the name yet; cards wait for its champion",
)
@click.option("--web-port", type=click.IntRange(1, 65535), default=6066, show_default=True)
@click.option(
    "--loglevel", type=click.Choice(["crit", "error", "warn", "info", "debug"]), default="warn", show_default=True
)
def worker(model_name: str, wait_for_model: bool, web_port: int, loglevel: str) -> None:
    """Consume race cards, market updates and results; publish predictions.

    Cards are consumed only while a champion is loaded: without one the worker
    is not ready (GET /ready answers 503) and cards wait, nothing is dropped.
    """
    settings = Settings()
    model_name = check_model_name(settings, model_name, wait_for_model)
    from streams.admin import ensure_topics
    from streams.app import Worker
    from streams.security import kafka_options
    from velo.cli.errors import quiet_client_logs

    kafka_options(settings)  # the security settings make a client, or say which one is wrong
    _check_redis_credentials(settings.redis_url)
    with quiet_client_logs():  # an unreachable broker is one line (velo.cli.errors), not one a retry
        asyncio.run(ensure_topics(settings, timeout=settings.broker_wait_s))
    w = Worker(settings, model_name=model_name, web_port=web_port)
    sys.argv = [
        "velo-worker",
        "worker",
        "--loglevel",
        loglevel,
        "--web-port",
        str(web_port),
        "--web-host",
        settings.web_host,
    ]
    w.app.main()


def _check_redis_credentials(url: str) -> None:
    """A Redis that refuses our password is a setting to fix, not an outage
    to wait out: raise its AuthenticationError (one line from the CLI). A
    Redis that is down is left to the worker, which waits for it."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2.0, socket_timeout=2.0)
    try:
        client.ping()
    except redis.AuthenticationError:
        raise
    except redis.RedisError:
        pass
    finally:
        client.close()
