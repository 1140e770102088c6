"""The feature-state interface, and the timeline semantics both backends share.

State is a set of *timelines*, one per key (a horse, a jockey, a
trainer-jockey pair, ...). Each item has a time, a unique member name, an
integer delta vector and an optional payload. Items are ordered by
``(time, member)``; each keeps the running (cumulative) sum of the deltas up to
and including itself. Deltas are integers (rates are stored in millionths), so
sums are exact whatever order the items arrived in: the same events give the
same state, and the same features, in any order and on any backend.

Reads ask "as of time t" and see only items with time strictly before t.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

#: Width of every delta/cumulative vector; see ``velo.features.records``.
WIDTH = 7


@dataclass(frozen=True, slots=True)
class Insert:
    key: str
    ts: float
    member: str
    delta: tuple[int, ...]
    payload: bytes | None = None


@dataclass(frozen=True, slots=True)
class CumBefore:
    """The cumulative vector of ``key`` over items with time < ``ts`` (zeros if none)."""

    key: str
    ts: float


@dataclass(frozen=True, slots=True)
class LastBefore:
    """The payloads of the last ``n`` items of ``key`` with time < ``ts``,
    newest first, decoded from JSON (``None`` where an item has none).

    Payloads come back decoded so that a backend can hand over one parsed
    document for a whole read (Redis) or parse each payload once, on insert
    (memory), instead of once per read."""

    key: str
    ts: float
    n: int


Query = CumBefore | LastBefore
Cum = tuple[int, ...]
#: A decoded payload (see :func:`velo.features.records.ride_inserts`).
Payload = dict[str, Any] | None


class FeatureStore(Protocol):
    """What the feature engine needs from its state backend."""

    def apply(self, race_id: str, inserts: Sequence[Insert]) -> bool:
        """Add a race's items atomically; False (and no change) if already applied."""
        ...

    def apply_many(self, races: Sequence[tuple[str, Sequence[Insert]]]) -> list[bool]:
        """:meth:`apply` for several races in order, in one round trip."""
        ...

    def read(self, queries: Sequence[Query]) -> list[Cum | list[Payload]]:
        """Answer all queries against one consistent state, in one round trip."""
        ...

    def get_blob(self, key: str) -> bytes | None: ...

    def put_blob(self, key: str, value: bytes) -> None: ...

    def get_blobs(self, keys: Sequence[str]) -> list[bytes | None]:
        """Several blobs in one round trip."""
        ...

    def put_blobs(self, items: dict[str, bytes]) -> None:
        """Several blobs in one round trip."""
        ...

    def delete_blob(self, key: str) -> None: ...

    def delete_blobs(self, keys: Sequence[str]) -> None:
        """Several blobs in one round trip."""
        ...
