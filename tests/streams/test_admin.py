from __future__ import annotations

import asyncio

from streams.admin import describe_topics, ensure_topics
from velo.config import Settings


def test_topics_exist_with_configured_partitions(settings: Settings) -> None:
    topics = asyncio.run(describe_topics(settings))
    for name, partitions in settings.topics.items():
        assert topics.get(name) == partitions, name


def test_ensure_topics_is_idempotent_and_creates_only_missing(settings: Settings) -> None:
    assert asyncio.run(ensure_topics(settings)) == []
    custom = settings.model_copy(update={"topic_dead_letter": "dead-letter-extra"})
    custom.__dict__.pop("topics", None)
    assert asyncio.run(ensure_topics(custom)) == ["dead-letter-extra"]
