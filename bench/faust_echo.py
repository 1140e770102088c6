"""The worker's transport with no work: a Faust echo on the worker's own app.

Built by ``streams.app.faust_app`` with the worker's settings (fetch wait,
commit interval, producer linger), it takes batches with
``streams.batching.take_ready`` as the worker's agents do, holds each batch
until the broker has acknowledged its echoes, then lets Faust acknowledge and
commit. ``bench/stream.py`` drives it like the worker and the bare aiokafka
echo (``bench/echo.py``), in the same run: the gap between the two echoes is
what Faust's consumer thread, stream and producer cost; the gap between this
echo and the worker is the worker's own work.

Usage: python bench/faust_echo.py IN_TOPIC OUT_TOPIC WEB_PORT  (settings from VELO_* variables)
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.app import faust_app
from streams.batching import take_ready
from velo.config import Settings


def main(source: str, target: str, web_port: int) -> None:
    settings = Settings()
    app = faust_app(settings, f"faust-echo-{uuid.uuid4().hex[:6]}", web_port)
    inbound = app.topic(source, key_type=bytes, value_type=bytes)
    outbound = app.topic(target, key_type=bytes, value_type=bytes)

    @app.agent(inbound, name="echo")
    async def echo(stream) -> None:
        async for events in take_ready(stream, settings.card_batch_max, settings.card_batch_wait_ms / 1000.0):
            sent = [await outbound.send(key=e.message.key, value=e.message.value) for e in events]
            await asyncio.gather(*sent)  # the broker's acknowledgements, as the worker waits for them

    @app.task
    async def ready() -> None:
        print("ready", flush=True)

    sys.argv = ["faust-echo", "worker", "--loglevel", "warn", "--web-port", str(web_port)]
    app.main()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
