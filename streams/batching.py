"""Batches of the events that are ready, for the worker's agents.

Faust's ``Stream.take_events(max, within)`` wakes on a fixed timer: a card that
arrives just after a tick waits up to ``within`` before it is scored, every
agent wakes every ``within`` seconds whether or not anything came, and while a
batch is being handled nothing more is buffered, so under load the next batch
starts from one event again. :func:`take_ready` yields as soon as an event is
there (after an optional linger for more), and keeps buffering while the
previous batch is handled, so a backlog forms batches by itself (up to
``max_``, then the stream waits, as Faust's does).

It uses the same stream hooks as ``take_events`` (a processor on the stream,
the stream consumed passively, acknowledgements after each batch), so Faust's
offset tracking is unchanged; the agents hold their own reference to every
message until it is settled, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any


def take_ready(stream: Any, max_: int, linger_s: float = 0.0) -> AsyncIterator[list[Any]]:
    """Lists of 1..``max_`` events: whatever is buffered when the agent is
    free, waiting up to ``linger_s`` after the first event for a fuller batch
    (0: none). Registered with the stream, which closes it when it stops, as
    Faust does for its own ``take_events``."""
    batches = _take_ready(stream, max_, linger_s)
    stream._active_agens.add(batches)
    return batches


async def _take_ready(stream: Any, max_: int, linger_s: float) -> AsyncIterator[list[Any]]:
    pending: list[Any] = []
    arrived, full, room = asyncio.Event(), asyncio.Event(), asyncio.Event()
    room.set()

    async def collect(value: Any) -> Any:
        try:
            while len(pending) >= max_:  # back-pressure: the batch is full until the agent takes it
                room.clear()
                if (await stream.wait(room)).stopped:
                    return value  # not buffered, so never acknowledged: redelivered after a restart
            event = stream.current_event
            if event is None:
                raise RuntimeError("take_ready found no current event")
            pending.append(event)
            arrived.set()
            if len(pending) >= max_:
                full.set()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # as take_events does: the stream crashes, loudly
            stream.log.exception("Error adding to take_ready buffer: %r", exc)
            await stream.crash(exc)
        return value

    acks = stream.enable_acks
    stream.enable_acks = False  # acknowledged below, after the agent is done with each batch
    stream.add_processor(collect)
    stream._enable_passive(aiter(stream.channel))
    try:
        while not stream.should_stop:
            await stream.wait_for_stopped(arrived)
            if linger_s > 0 and len(pending) < max_:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(full.wait(), linger_s)
            if not pending:
                arrived.clear()
                continue
            batch = pending[:]
            pending.clear()
            arrived.clear()
            full.clear()
            room.set()
            try:
                yield batch
            finally:
                for event in batch:
                    await stream.ack(event)
    finally:
        stream.enable_acks = acks
        stream._processors.remove(collect)
