"""A Faust transport whose worker consumer has a configurable fetch wait.

Faust builds its aiokafka worker consumer with ``fetch_max_wait_ms=1500``
hard-coded. Tansu (the embedded broker) does not answer a waiting fetch early
when data arrives, so every hop waited up to 1.5 s (measured p50 700 ms). This
transport is Faust's own aiokafka transport with one change: after Faust builds
the consumer, the fetch wait is set from ``VELO_CONSUMER_FETCH_MAX_WAIT_MS``
(stored on the app as ``velo_fetch_max_wait_ms``). Use it with a
``velokafka://host:port`` broker URL; nothing global is patched.
"""

from __future__ import annotations

from typing import Any

import aiokafka
from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as driver

SCHEME = "velokafka"


class ConsumerThread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # read by AIOKafkaConsumer.start() when it builds its Fetcher
        consumer._fetch_max_wait_ms = int(getattr(self.app, "velo_fetch_max_wait_ms", 1500))
        return consumer


class Consumer(driver.Consumer):
    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(driver.Transport):
    Consumer = Consumer


def register() -> str:
    """Make ``velokafka://`` resolve to this transport; returns the scheme."""
    TRANSPORTS.aliases[SCHEME] = f"{__name__}:Transport"
    return SCHEME
