"""A message as it came off an input topic, independent of the Kafka client.

The worker service decides on these; the stream adapter builds them from
Faust events and carries out the decisions (send, dead-letter, acknowledge).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Inbound:
    value: bytes | None
    key: bytes | None
    topic: str
    partition: int
    offset: int
    headers: tuple[tuple[str, bytes], ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Rejected:
    """A message that ends as a dead letter, and why."""

    message: Inbound
    reason: str
