"""OutputTopic and Producer without a broker (the worker tests publish through them for real)."""

from __future__ import annotations

import asyncio

import pytest

from streams.outputs import OutputTopic, Producer


def test_sending_before_the_producer_started_says_so() -> None:
    topic = OutputTopic("predictions", Producer("127.0.0.1:1"))
    assert topic.get_topic_name() == "predictions"
    with pytest.raises(RuntimeError, match="not started"):
        asyncio.run(topic.send(b"k", b"v"))
