"""Start the embedded stack with its topics: the one path for CLI and tests."""

from __future__ import annotations

import asyncio

from streams.admin import ensure_topics
from velo.config import Settings
from velo.stack import EmbeddedStack


def topic_overrides(settings: Settings) -> dict[str, object]:
    """The topic names and partition counts of ``settings``, to carry over."""
    keep = [k for k in type(settings).model_fields if k.startswith(("topic_", "partitions", "replication"))]
    return {k: getattr(settings, k) for k in keep}


def start_embedded_stack(
    settings: Settings | None = None, broker_port: int | None = None, redis_port: int | None = None
) -> EmbeddedStack:
    """Start broker and Redis, wait until both answer, create the topics.

    With no ports given, the settings' ports are used when free (so default
    settings reach the stack), else any free loopback port.
    """
    settings = settings or Settings()
    if broker_port is None and redis_port is None:
        stack = EmbeddedStack.on_default_ports(settings)
    else:
        stack = EmbeddedStack(broker_port or 0, redis_port or 0)
    stack.start()
    try:
        asyncio.run(ensure_topics(stack.settings(**topic_overrides(settings))))
    except BaseException:
        stack.stop()
        raise
    return stack
