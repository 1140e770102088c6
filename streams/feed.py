"""Market feeds into the market-updates topic: Betfair stream recordings, and
Betfair's live stream.

Both turn market change messages into MarketUpdates through
``velo.data.betfair_stream`` (betfairlightweight's listener and order books),
so a recording fed here gives exactly the updates ``velo data convert
--source stream`` writes, and the live feed takes the same path from the
socket on. Updates are keyed by race id, like every input topic, so a race's
updates meet its card on one worker.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from schemas import MarketUpdate
from streams.admin import ensure_topics
from streams.replay import ReplaySummary, replay
from streams.security import kafka_options
from velo.config import Settings
from velo.data.betfair_stream import BookReader, RaceIds, update_listener
from velo.data.events import Event
from velo.data.report import LoadReport

log = logging.getLogger("velo.feed")


def market_events(updates: Sequence[MarketUpdate]) -> list[Event]:
    """Updates as replay events, in publish-time order (ties keep their order)."""
    return sorted(Event(u.publish_time, 0, i, "market", u.race_id, u) for i, u in enumerate(updates))


async def publish_recorded(
    updates: Sequence[MarketUpdate], settings: Settings, speed: float | None = None
) -> ReplaySummary:
    """Publish recorded updates in publish-time order: flat out, or paced by
    their times compressed ``speed`` times (1 = as recorded). The replay's
    publisher does it, with no worker barriers: market updates only touch
    their own race's state."""
    await ensure_topics(settings)
    return await replay(market_events(updates), settings, speed=speed, group=None)


#: Credentials for Betfair's API, from the environment.
ENV_USERNAME, ENV_PASSWORD, ENV_APP_KEY, ENV_CERTS = (
    "VELO_BETFAIR_USERNAME",
    "VELO_BETFAIR_PASSWORD",
    "VELO_BETFAIR_APP_KEY",
    "VELO_BETFAIR_CERTS",
)


@dataclass(frozen=True)
class BetfairCredentials:
    username: str
    password: str
    app_key: str
    #: folder with the API certificate (.crt and .key) for non-interactive login; None: interactive login
    certs: Path | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> BetfairCredentials:
        """From ``VELO_BETFAIR_*``; a ValueError naming what is missing."""
        env = dict(os.environ if env is None else env)
        missing = [k for k in (ENV_USERNAME, ENV_PASSWORD, ENV_APP_KEY) if not env.get(k)]
        if missing:
            raise ValueError(f"Betfair credentials missing: set {', '.join(missing)}")
        certs = Path(env[ENV_CERTS]) if env.get(ENV_CERTS) else None
        if certs is not None and not certs.is_dir():
            raise ValueError(
                f"{ENV_CERTS}={certs} is not a folder (it should hold the API certificate's .crt and .key)"
            )
        return cls(env[ENV_USERNAME], env[ENV_PASSWORD], env[ENV_APP_KEY], certs)


class LiveFeed:
    """Betfair's live market stream -> the market-updates topic.

    betfairlightweight's stream runs its blocking socket on a thread; its
    listener (the same one a recording is read through) hands each market
    change's updates to the event loop, which publishes them. Stop with
    :meth:`stop` or by cancelling :meth:`run`.
    """

    def __init__(
        self,
        settings: Settings,
        credentials: BetfairCredentials,
        race_ids: RaceIds | None = None,
        countries: Sequence[str] = (),
        market_types: Sequence[str] = ("WIN",),
        on_published: Callable[[int], None] | None = None,
    ) -> None:
        self.settings = settings
        self.credentials = credentials
        self.report = LoadReport(source="betfair live stream")
        self.reader = BookReader(race_ids, self.report)
        self.countries = list(countries)
        self.market_types = list(market_types)
        self.on_published = on_published
        self.published = 0
        self._stream: Any = None

    def _connect(self, sink: Callable[[list[MarketUpdate]], None]) -> Any:
        import betfairlightweight
        from betfairlightweight.filters import streaming_market_data_filter, streaming_market_filter

        c = self.credentials
        client = betfairlightweight.APIClient(
            c.username, c.password, app_key=c.app_key, certs=str(c.certs) if c.certs else None
        )
        if c.certs:
            client.login()
        else:
            client.login_interactive()
        stream = client.streaming.create_stream(listener=update_listener(self.reader, sink))
        stream.subscribe_to_markets(
            market_filter=streaming_market_filter(
                event_type_ids=["7"], market_types=self.market_types or None, country_codes=self.countries or None
            ),
            market_data_filter=streaming_market_data_filter(
                fields=["EX_BEST_OFFERS", "EX_TRADED_VOL", "EX_LTP", "EX_MARKET_DEF"], ladder_levels=1
            ),
        )
        return stream

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[list[MarketUpdate] | BaseException] = asyncio.Queue()

        def sink(updates: list[MarketUpdate]) -> None:
            if updates:
                loop.call_soon_threadsafe(queue.put_nowait, updates)

        await ensure_topics(self.settings)
        self._stream = await loop.run_in_executor(None, self._connect, sink)

        def listen() -> None:
            try:
                self._stream.start()  # blocks until stopped or the connection fails
            except BaseException as exc:
                loop.call_soon_threadsafe(queue.put_nowait, exc)

        threading.Thread(target=listen, name="betfair-stream", daemon=True).start()
        producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.bootstrap_servers, acks="all", linger_ms=2, **kafka_options(self.settings)
        )
        topic = self.settings.topic_market_updates
        try:
            await producer.start()
            while True:
                got = await queue.get()
                if isinstance(got, BaseException):
                    raise RuntimeError(f"the Betfair stream stopped: {got}") from got
                sent = [await producer.send(topic, u.encode(), key=u.race_id.encode()) for u in got]
                await asyncio.gather(*sent)
                self.published += len(got)
                if self.on_published:
                    self.on_published(len(got))
        finally:
            self.stop()
            await producer.stop()

    def stop(self) -> None:
        if self._stream is not None:
            try:
                self._stream.stop()
            except Exception:  # already closed
                log.debug("closing the Betfair stream", exc_info=True)
