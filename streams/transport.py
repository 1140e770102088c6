"""A Faust transport with two changes to Faust's own aiokafka transport.

1. A configurable fetch wait. Faust builds its aiokafka worker consumer with
   ``fetch_max_wait_ms=1500`` hard-coded. Tansu (the embedded broker) does not
   answer a waiting fetch early when data arrives, so every hop waited up to
   1.5 s (measured p50 700 ms). After Faust builds the consumer, the wait is
   set from ``VELO_CONSUMER_FETCH_MAX_WAIT_MS`` (stored on the app as
   ``velo_fetch_max_wait_ms``).
2. A stalled commit, which Faust only logs, is also reported to the worker's
   health (``app.velo_health``), so ``/health`` fails while it lasts.
3. A broker that lost its state is noticed at the next assignment (committed
   offsets went back) and reported to ``app.velo_broker_lost``.

Use it with a ``velokafka://host:port`` broker URL; nothing global is patched.
"""

from __future__ import annotations

from collections.abc import Mapping
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

    def _log_slow_processing_commit(self, msg: str, *args: Any) -> None:
        """Faust logs a partition whose commits stalled while its lag is above
        zero; also tell the worker's health (``app.velo_health``)."""
        super()._log_slow_processing_commit(msg, *args)
        health = getattr(self.app, "velo_health", None)
        if health is not None and args:
            health.commit_stalled(str(args[0]), f"last commit {args[1]}" if len(args) > 1 else "no commit")


class Consumer(driver.Consumer):
    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _commit(self, offsets: Mapping[Any, int]) -> bool:
        ok = await super()._commit(offsets)
        if ok:  # remember the highest offset this process ever committed per partition
            high = self.__dict__.setdefault("_velo_committed", {})
            for tp, offset in offsets.items():
                high[tp] = max(high.get(tp, -1), offset)
        return ok

    async def seek_to_committed(self) -> Mapping[Any, int]:
        """After every assignment: a committed offset below one this process
        committed itself means the broker lost its state (the memory-only
        embedded broker restarted). Faust and aiokafka would then skip the
        new log's messages up to the old positions, silently; the app's
        ``velo_broker_lost`` hook ends the process instead, so a supervisor
        restarts it clean and nothing is lost."""
        committed = await super().seek_to_committed()
        high: dict[Any, int] = self.__dict__.get("_velo_committed", {})
        for tp in self.assignment():
            ours, theirs = high.get(tp), committed.get(tp)
            theirs = -1 if theirs is None else theirs
            if ours is not None and theirs < ours:
                hook = getattr(self.app, "velo_broker_lost", None)
                msg = (f"the broker's committed offset for {tp.topic}[{tp.partition}] went back from {ours} to "
                       f"{theirs}: the broker lost its log and offsets (restarted)")  # fmt: skip
                if hook is None:
                    raise RuntimeError(msg)
                hook(msg)
        return committed


class Transport(driver.Transport):
    Consumer = Consumer


def register() -> str:
    """Make ``velokafka://`` resolve to this transport; returns the scheme."""
    TRANSPORTS.aliases[SCHEME] = f"{__name__}:Transport"
    return SCHEME
