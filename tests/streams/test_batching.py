"""take_ready: batches of what has arrived, in Faust's agent test context."""

from __future__ import annotations

import asyncio

import faust

from streams.batching import take_ready

# the test context feeds agents through channels; the broker is never contacted
app = faust.App("test-batching", broker="kafka://127.0.0.1:1", store="memory://")
seen: list[list[int]] = []
LINGER = {"s": 0.0}


@app.agent()
async def busy(stream: faust.StreamT) -> None:
    async for batch in take_ready(stream, 3, LINGER["s"]):
        seen.append([e.value for e in batch])
        await asyncio.sleep(0.05)  # handling the batch; more events arrive meanwhile


async def _run(feed) -> list[list[int]]:
    seen.clear()
    async with busy.test_context() as agent:
        await feed(agent)
        for _ in range(200):
            if sum(map(len, seen)) >= 7:
                break
            await asyncio.sleep(0.01)
    return list(seen)


def test_a_lone_event_goes_at_once_and_a_backlog_batches_itself() -> None:
    async def feed(agent) -> None:
        await agent.put(1)
        await asyncio.sleep(0.02)  # the first is being handled
        for v in range(2, 8):
            await agent.put(v)

    got = asyncio.run(_run(feed))
    assert got == [[1], [2, 3, 4], [5, 6, 7]]  # in order, none twice, never more than the maximum


def test_a_linger_waits_after_the_first_event_for_more() -> None:
    async def feed(agent) -> None:
        for v in range(1, 8):
            await agent.put(v)
            await asyncio.sleep(0.005)

    LINGER["s"] = 0.2
    try:
        got = asyncio.run(_run(feed))
    finally:
        LINGER["s"] = 0.0
    assert got[0] == [1, 2, 3]  # full before the linger ran out
    assert [v for b in got for v in b] == list(range(1, 8))
