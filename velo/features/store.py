"""The feature-state interface, and the timeline semantics both backends share.

State is a set of *timelines*, one per key (a horse, a jockey, a
trainer-jockey pair, ...). Each item has a time, a member name unique within
its key, an integer delta vector and an optional payload. Reads ask "as of
time t" and see only items with time strictly before t:

- a *cumulative* read sums the deltas of a key's items before t. Deltas are
  integers (rates are stored in millionths), so sums are exact whatever order
  the items arrived in: the same events give the same state, and the same
  features, in any order and on any backend;
- a *recent* read returns the payloads of a key's last n payload-carrying
  items before t, newest first, in ``(time, member)`` order.

Both directions are columns, not one object per item or query: the engine
builds a whole day's items and reads as a few lists and arrays, and a backend
answers them with array operations (memory) or one script call (Redis).
Python's per-object cost, not the arithmetic, was what bounded the offline
build.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import numpy as np

#: Width of every delta/cumulative vector; see ``velo.features.records``.
WIDTH = 7

#: A decoded payload (see :func:`velo.features.records.ride_items`).
Payload = dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Items:
    """Timeline items as columns: item i is ``(keys[i], ts[i], members[i],
    deltas[i])``, and ``payloads[i]`` if it carries one (few do: one per
    runner). ``deltas`` is an ``(n, WIDTH)`` int64 array."""

    keys: list[str]
    ts: np.ndarray
    members: list[str]
    deltas: np.ndarray
    payloads: dict[int, dict[str, Any]]

    def __len__(self) -> int:
        return len(self.keys)

    def firsts(self) -> list[int] | None:
        """The first item of each (key, member), in order; None when no pair
        repeats. A store applies a repeated item once, as its first."""
        pairs = list(zip(self.keys, self.members, strict=True))
        if len(set(pairs)) == len(pairs):
            return None
        seen: set[tuple[str, str]] = set()
        out: list[int] = []
        for i, km in enumerate(pairs):
            if km not in seen:
                seen.add(km)
                out.append(i)
        return out

    @classmethod
    def of(cls, rows: Iterable[tuple[str, float, str, Sequence[int], Payload]]) -> Items:
        """Items from ``(key, ts, member, delta, payload)`` rows (tests, tools)."""
        rows = list(rows)
        return cls(
            keys=[r[0] for r in rows],
            ts=np.array([r[1] for r in rows], dtype=float),
            members=[r[2] for r in rows],
            deltas=np.array([r[3] for r in rows], dtype=np.int64).reshape(len(rows), WIDTH),
            payloads={i: r[4] for i, r in enumerate(rows) if r[4] is not None},
        )


def _no_ts() -> np.ndarray:
    return np.empty(0)


@dataclass(frozen=True, slots=True)
class Follow:
    """A read that depends on another, answered in the same round trip: for
    recent query i, the value v of ``field`` in its newest payload; where v is
    set and differs from ``skip[i]``, the cumulative vectors of key
    ``prefix + v`` before ``last_ts[i] + offset``, for each offset. (A card's
    previous jockeys: their counters depend on the horses' last runs.)"""

    field: str
    prefix: str
    skip: list[str | None]
    offsets: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Reads:
    """One consistent read: cumulative vectors of ``cum_keys`` before
    ``cum_ts``, the last ``last_n`` payloads of ``last_keys`` before
    ``last_ts``, and optionally what those payloads point at (``follow``)."""

    cum_keys: list[str]
    cum_ts: np.ndarray
    last_keys: list[str] = field(default_factory=list)
    last_ts: np.ndarray = field(default_factory=_no_ts)
    last_n: int = 0
    follow: Follow | None = None


class Answer(NamedTuple):
    """The answer to :class:`Reads`."""

    #: ``(len(cum_keys), WIDTH)`` int64, zeros where a key has nothing before its time
    cums: np.ndarray
    #: per recent query, the payloads newest first (only payload-carrying items: never None)
    lasts: list[list[dict[str, Any]]]
    #: ``(len(last_keys), len(follow.offsets), WIDTH)`` int64 (zeros where nothing is followed)
    followed: np.ndarray
    #: per recent query, whether its newest payload was followed
    followed_ok: np.ndarray


class FeatureStore(Protocol):
    """What the feature engine needs from its state backend."""

    def apply(self, race_id: str, items: Items) -> bool:
        """Add a race's items atomically; False (and no change) if already applied.
        An item whose (key, member) the race already holds is ignored."""
        ...

    def apply_many(self, races: Sequence[tuple[str, Items]]) -> list[bool]:
        """:meth:`apply` for several races in order, in one round trip."""
        ...

    def read(self, reads: Reads) -> Answer:
        """Answer every query against one consistent state, in one round trip."""
        ...

    def seen_epoch(self) -> str:
        """The state's epoch as of this process's last read, without asking
        the backend. The epoch moves on whenever an item lands before a time
        some read has already asked about: an answer given in an epoch is
        the answer for as long as the epoch lasts (see ``FeatureCache``).
        "" if this process has not read yet."""
        ...

    def current_epoch(self) -> str:
        """The state's epoch now (one round trip to a shared backend)."""
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
