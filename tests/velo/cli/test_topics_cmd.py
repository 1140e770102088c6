"""``velo topics tail`` reads a topic on the embedded broker, where kcat cannot."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaProducer
from click.testing import CliRunner

from streams.admin import ensure_topics
from velo.cli.main import main
from velo.config import Settings


def _publish(settings: Settings, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
        await producer.start()
        try:
            for key, value in messages:
                await producer.send_and_wait(topic, value, key=key)
        finally:
            await producer.stop()

    asyncio.run(run())


def test_tail_prints_each_message_with_its_place_key_and_json(settings: Settings) -> None:
    topic = f"tail-{uuid.uuid4().hex[:8]}"
    s = settings.model_copy(update={"topic_dead_letter": topic})  # made with the others
    asyncio.run(ensure_topics(s))
    _publish(s, topic, [(b"R1", b'{"race_id": "R1", "n": 1}'), (b"R1", b'{"race_id": "R1", "n": 2}'),
                        (b"R1", b"not json \\xff")])  # fmt: skip
    out = CliRunner().invoke(main, ["topics", "tail", topic, "--from-beginning", "--limit", "3"], env=s.env())
    assert out.exit_code == 0, out.output
    lines = out.output.strip().splitlines()
    assert len(lines) == 3, out.output
    part = lines[0].split("[", 1)[1].split("]", 1)[0]  # one key: one partition
    assert lines[0] == f'{topic}[{part}]@0 R1 {{"race_id":"R1","n":1}}'
    assert lines[1] == f'{topic}[{part}]@1 R1 {{"race_id":"R1","n":2}}'
    assert lines[2].startswith(f"{topic}[{part}]@2 R1 b'not json")


def test_tail_of_a_topic_that_does_not_exist_is_one_line(settings: Settings) -> None:
    out = CliRunner().invoke(main, ["topics", "tail", "no-such-topic", "--limit", "1"], env=settings.env())
    assert out.exit_code == 1 and out.output.count("Error:") == 1 and "does not exist" in out.output, out.output
