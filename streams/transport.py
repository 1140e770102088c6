"""A Faust transport with two changes to Faust's own aiokafka transport.

1. A configurable fetch wait. Faust builds its aiokafka worker consumer with
   ``fetch_max_wait_ms=1500`` hard-coded. Tansu (the embedded broker) does not
   answer a waiting fetch early when data arrives, so every hop waited up to
   1.5 s (measured p50 700 ms). After Faust builds the consumer, the wait is
   set from ``VELO_CONSUMER_FETCH_MAX_WAIT_MS`` (stored on the app as
   ``velo_fetch_max_wait_ms``).
2. A stalled commit, which Faust only logs, is also reported to the worker's
   health (``app.velo_health``), so ``/health`` fails while it lasts.
3. A broker that lost its state is noticed before the next commit or at the
   next assignment (committed offsets went back) and reported to
   ``app.velo_broker_lost``.

Use it with a ``velokafka://host:port`` broker URL; nothing global is patched.
"""

from __future__ import annotations

import asyncio
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

    # -- a broker that lost its state ------------------------------------
    # The memory-only embedded broker forgets every log and committed offset
    # when it restarts, and answers a fetch past a log's new end with nothing
    # (no out-of-range error): old positions would silently skip the new log.
    # Worse, committing our old offsets to the new broker would make a
    # restarted worker skip them too. So before every commit, and after every
    # assignment, the broker's committed offsets are compared with the highest
    # this process committed; one that went back means the broker lost its
    # state, and the app's ``velo_broker_lost`` hook ends the process before
    # anything is committed, so a supervisor restarts it clean.
    def _velo_high(self) -> dict[tuple[str, int], int]:
        return self.__dict__.setdefault("_velo_committed", {})

    def _velo_check(self, theirs: Mapping[Any, Any]) -> bool:
        """True if the broker still has every offset we committed there."""
        high = self._velo_high()
        for tp, off in theirs.items():
            key = (tp.topic, tp.partition)
            value = getattr(off, "offset", off)
            value = -1 if value is None else value
            if key in high and value < high[key]:
                why = (f"the broker's committed offset for {key[0]}[{key[1]}] went back from {high[key]} to {value}: "
                       "the broker lost its log and offsets (restarted)")  # fmt: skip
                hook = getattr(self.app, "velo_broker_lost", None)
                if hook is None:
                    raise RuntimeError(why)
                hook(why)
                return False
        return True

    async def _commit(self, offsets: Mapping[Any, int]) -> bool:
        high = self._velo_high()
        known = [driver.ensure_aiokafka_TP(tp) for tp in offsets if (tp.topic, tp.partition) in high]
        if known:
            try:
                theirs = await asyncio.wait_for(
                    self._ensure_consumer()._coordinator.fetch_committed_offsets(known), 10.0
                )
            except Exception:
                return False  # cannot check now: commit nothing; the next commit tries again
            if not self._velo_check({tp: theirs.get(tp) for tp in known}):
                return False
        ok = await super()._commit(offsets)
        if ok:
            for tp, offset in offsets.items():
                key = (tp.topic, tp.partition)
                high[key] = max(high.get(key, -1), offset)
        return ok

    async def seek_to_committed(self) -> Mapping[Any, int]:
        committed = await super().seek_to_committed()
        self._velo_check({tp: committed.get(tp) for tp in self.assignment()})
        return committed


class Consumer(driver.Consumer):
    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(driver.Transport):
    Consumer = Consumer


def register() -> str:
    """Make ``velokafka://`` resolve to this transport; returns the scheme."""
    TRANSPORTS.aliases[SCHEME] = f"{__name__}:Transport"
    return SCHEME
