"""The worker's output topics, written by one aiokafka producer of its own.

Faust's ``Topic.send`` goes through Faust's producer buffer and message
futures; the worker needs none of that: it hands each message to the
producer and awaits the broker's acknowledgement itself (see
``Worker.publish``). An :class:`OutputTopic` has the two methods the worker
uses, so a test can stand in for it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaProducer

from streams.clients import start_client


class Producer:
    """One producer for every output topic, started on the event loop."""

    def __init__(self, bootstrap_servers: str, security: dict[str, Any] | None = None) -> None:
        self.bootstrap_servers = bootstrap_servers
        #: the cluster's security options (see streams.security)
        self.security = security or {}
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        # acks=all and no linger: a prediction goes out at once, and is
        # acknowledged only once the broker has it
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers, acks="all", linger_ms=0, **self.security
        )
        await start_client(self._producer, self.bootstrap_servers)

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def send(self, topic: str, key: bytes | None, value: bytes) -> asyncio.Future[Any]:
        if self._producer is None:
            raise RuntimeError("the output producer is not started")
        return await self._producer.send(topic, value, key=key)


class OutputTopic:
    """A topic the worker publishes to."""

    def __init__(self, name: str, producer: Producer) -> None:
        self.name = name
        self.producer = producer

    def get_topic_name(self) -> str:
        return self.name

    async def send(self, key: bytes | None, value: bytes) -> asyncio.Future[Any]:
        """Hand the message to the producer; returns its delivery to await."""
        return await self.producer.send(self.name, key, value)
