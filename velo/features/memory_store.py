"""In-process feature state: sorted lists per key, bisect for reads."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from operator import add

import orjson

from velo.features.store import WIDTH, Cum, CumBefore, Insert, LastBefore, Payload, Query

_ZERO = (0,) * WIDTH


class _Timeline:
    __slots__ = ("cums", "members", "order", "payloads", "ts")

    def __init__(self) -> None:
        self.order: list[tuple[float, str]] = []
        self.ts: list[float] = []
        self.members: set[str] = set()
        self.cums: list[tuple[int, ...]] = []
        self.payloads: list[Payload] = []

    def insert(self, item: Insert) -> None:
        if item.member in self.members:
            return
        self.members.add(item.member)
        key = (item.ts, item.member)
        d = item.delta
        payload = orjson.loads(item.payload) if item.payload is not None else None
        if not self.order or key > self.order[-1]:  # the usual case: arrives in time order
            self.cums.append(tuple(map(add, self.cums[-1], d)) if self.cums else d)
            self.order.append(key)
            self.ts.append(item.ts)
            self.payloads.append(payload)
            return
        pos = bisect_left(self.order, key)
        prev = self.cums[pos - 1] if pos else _ZERO
        self.order.insert(pos, key)
        self.ts.insert(pos, item.ts)
        self.cums.insert(pos, tuple(map(add, prev, d)))
        self.payloads.insert(pos, payload)
        for i in range(pos + 1, len(self.cums)):  # later items now include this delta
            self.cums[i] = tuple(map(add, self.cums[i], d))

    def cum_before(self, ts: float) -> tuple[int, ...]:
        pos = bisect_left(self.ts, ts)
        return self.cums[pos - 1] if pos else _ZERO

    def last_before(self, ts: float, n: int) -> list[Payload]:
        pos = bisect_left(self.ts, ts)
        return self.payloads[max(0, pos - n) : pos][::-1]


class MemoryStore:
    """The in-process backend: fast, single-process, lost on exit."""

    def __init__(self) -> None:
        self._timelines: dict[str, _Timeline] = {}
        self._applied: set[str] = set()
        self._blobs: dict[str, bytes] = {}

    def apply(self, race_id: str, inserts: Sequence[Insert]) -> bool:
        if race_id in self._applied:
            return False
        for item in inserts:
            tl = self._timelines.get(item.key)
            if tl is None:
                tl = self._timelines[item.key] = _Timeline()
            tl.insert(item)
        self._applied.add(race_id)
        return True

    def apply_many(self, races: Sequence[tuple[str, Sequence[Insert]]]) -> list[bool]:
        return [self.apply(race_id, inserts) for race_id, inserts in races]

    def read(self, queries: Sequence[Query]) -> list[Cum | list[Payload]]:
        out: list[Cum | list[Payload]] = []
        for q in queries:
            tl = self._timelines.get(q.key)
            if isinstance(q, CumBefore):
                out.append(tl.cum_before(q.ts) if tl else _ZERO)
            elif isinstance(q, LastBefore):
                out.append(tl.last_before(q.ts, q.n) if tl else [])
            else:  # pragma: no cover - typing guards this
                raise TypeError(f"unknown query {q!r}")
        return out

    def get_blob(self, key: str) -> bytes | None:
        return self._blobs.get(key)

    def put_blob(self, key: str, value: bytes) -> None:
        self._blobs[key] = value

    def get_blobs(self, keys: Sequence[str]) -> list[bytes | None]:
        return [self._blobs.get(k) for k in keys]

    def put_blobs(self, items: dict[str, bytes]) -> None:
        self._blobs.update(items)

    def delete_blob(self, key: str) -> None:
        self._blobs.pop(key, None)

    def delete_blobs(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._blobs.pop(key, None)
