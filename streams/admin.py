"""Topic administration over the Kafka protocol (works on Tansu and Kafka)."""

from __future__ import annotations

import asyncio
import contextlib
import time

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

from streams.clients import BrokerUnreachable, start_client
from streams.security import kafka_options
from velo.config import Settings


async def ensure_topics(settings: Settings, timeout: float = 20.0) -> list[str]:
    """Create every topic in ``settings.topics`` that does not exist yet.

    Retries until the broker answers metadata requests, which is also how we
    know a freshly started broker is ready (:class:`BrokerUnreachable` after
    ``timeout``). Returns the names created.
    """
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=settings.bootstrap_servers, request_timeout_ms=5000, **kafka_options(settings)
        )
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [
                NewTopic(name, num_partitions=n, replication_factor=settings.replication_factor)
                for name, n in settings.topics.items()
                if name not in existing
            ]
            if missing:
                # another process may win the race to create them; fine
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics(missing)
            return [t.name for t in missing]
        except (KafkaError, OSError) as exc:
            last = exc
            await asyncio.sleep(0.1)
        finally:
            await admin.close()
    why = "no answer" if last is None or isinstance(last, KafkaConnectionError | OSError) else str(last)
    raise BrokerUnreachable(settings.bootstrap_servers, f"{why} within {timeout:.0f} s")


async def describe_topics(settings: Settings) -> dict[str, int]:
    """Topic name -> partition count, as the broker reports it."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, **kafka_options(settings))
    await start_client(admin, settings.bootstrap_servers)
    try:
        names = await admin.list_topics()
        meta = await admin.describe_topics(names)
        return {m["topic"]: len(m["partitions"]) for m in meta}
    finally:
        await admin.close()
