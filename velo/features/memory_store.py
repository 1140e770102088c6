"""In-process feature state: sorted runs of columns, searched with numpy.

Cumulative state is a small stack of immutable *runs* (a log-structured
merge): each run holds its items sorted by (key id, time) with one running
sum over the whole run, so "the sum of key k's items before t" is two
``searchsorted`` calls and a subtraction of two rows, for a whole day's
queries at once. New items wait in a buffer until the next read, which makes
them a run; a run is merged into the one below it while that one is less
than four times its size, so there are O(log n) runs and each item is
re-sorted O(log n) times. Sums are int64, so the answer is exact and the same
whatever order the items arrived in.

Most queries never touch the runs: see :class:`MemoryStore`. Payloads (a
horse's recent runs) are few, one per runner, and read a few at
a time: they stay in per-key sorted Python lists.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import Any, cast

import numpy as np

from velo.features.store import WIDTH, Answer, FeatureStore, Items, Reads

#: A run is merged into the one below while that one is smaller than this many times its size.
_FANOUT = 4


class _Run:
    """Items sorted by (key id, time), with a running sum over the whole run."""

    __slots__ = ("base", "comp", "cum", "kid", "ts", "uts")

    def __init__(self, kid: np.ndarray, ts: np.ndarray, deltas: np.ndarray, uts: np.ndarray | None = None) -> None:
        # (key id, time) as one int64, the time by its rank among the run's
        # times; a stable sort of two runs' keys is one linear merge
        self.uts = np.unique(ts) if uts is None else uts
        self.base = len(self.uts) + 1
        comp = kid * self.base + np.searchsorted(self.uts, ts)
        order = np.argsort(comp, kind="stable")
        self.comp, self.kid, self.ts = comp[order], kid[order], ts[order]
        self.cum = np.zeros((len(order) + 1, WIDTH), dtype=np.int64)
        np.cumsum(deltas[order], axis=0, out=self.cum[1:])

    def __len__(self) -> int:
        return len(self.kid)

    def merged(self, other: _Run) -> _Run:
        return _Run(
            np.concatenate([self.kid, other.kid]),
            np.concatenate([self.ts, other.ts]),
            np.concatenate([np.diff(self.cum, axis=0), np.diff(other.cum, axis=0)]),
            np.union1d(self.uts, other.uts),
        )

    def sum_before(self, kid: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """Per query, the sum of key ``kid``'s deltas with time < ``ts``."""
        start = kid * self.base
        lo = np.searchsorted(self.comp, start)
        hi = np.searchsorted(self.comp, start + np.searchsorted(self.uts, ts))
        return self.cum[hi] - self.cum[lo]


class _Recent:
    """One key's payload-carrying items in (time, member) order."""

    __slots__ = ("order", "payloads", "ts")

    def __init__(self) -> None:
        self.order: list[tuple[float, str]] = []
        self.ts: list[float] = []
        self.payloads: list[dict[str, Any]] = []

    def insert(self, ts: float, member: str, payload: dict[str, Any]) -> None:
        key = (ts, member)
        if not self.order or key > self.order[-1]:  # the usual case: arrives in time order
            self.order.append(key)
            self.ts.append(ts)
            self.payloads.append(payload)
            return
        pos = bisect_left(self.order, key)
        self.order.insert(pos, key)
        self.ts.insert(pos, ts)
        self.payloads.insert(pos, payload)


class _Log:
    """Every cumulative item ever applied, in arrival order, as growable columns."""

    __slots__ = ("deltas", "kid", "n", "ts")

    def __init__(self) -> None:
        self.n = 0
        self.kid = np.empty(0, dtype=np.int64)
        self.ts = np.empty(0)
        self.deltas = np.empty((0, WIDTH), dtype=np.int64)

    def extend(self, kid: np.ndarray, ts: np.ndarray, deltas: np.ndarray) -> None:
        end = self.n + len(kid)
        self.kid, self.ts = _grown(self.kid, end, 0), _grown(self.ts, end, 0.0)
        self.deltas = _grown(self.deltas, end, 0)
        self.kid[self.n : end], self.ts[self.n : end], self.deltas[self.n : end] = kid, ts, deltas
        self.n = end


def _grown(a: np.ndarray, size: int, fill: float | int) -> np.ndarray:
    """``a`` with room for at least ``size`` rows (doubling; new rows ``fill``)."""
    if size <= len(a):
        return a
    more = np.full((max(size, 2 * len(a)) - len(a), *a.shape[1:]), fill, dtype=a.dtype)
    return np.concatenate([a, more])


class MemoryStore:
    """The in-process backend: fast, single-process, lost on exit.

    Every key's total and latest time are kept as dense arrays, so a query
    after a key's latest item (a day's cards after the days before it: most
    queries, when results arrive in time order) is one gather. Only queries
    inside a key's history (365- and 30-day windows, out-of-order arrivals)
    search the runs, and runs are built per key kind (the prefix before
    ``:``), lazily, the first time such a query needs that kind.
    """

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._kinds: dict[str, int] = {}
        self._kind_of = np.empty(0, dtype=np.int32)
        self._applied: set[str] = set()
        self._new_kid: list[int] = []
        self._new_ts: list[np.ndarray] = []
        self._new_deltas: list[np.ndarray] = []
        self._log = _Log()
        self._total = np.zeros((1, WIDTH), dtype=np.int64)  # never empty: unknown keys index 0, masked
        self._latest = np.full(1, -np.inf)
        self._runs: dict[int, list[_Run]] = {}  # kind -> its runs
        self._in_runs: dict[int, int] = {}  # kind -> log items already in its runs
        self._recent: dict[str, _Recent] = {}
        self._blobs: dict[str, bytes] = {}
        self._hwm = -np.inf  # the latest time any read has asked about
        self._epoch = 0  # moves on when an item lands before it (see FeatureStore.seen_epoch)

    def _intern(self, keys: list[str]) -> list[int]:
        ids = self._ids
        got = list(map(ids.get, keys))
        if None in got:
            kinds = self._kinds
            new = []
            for i, k in enumerate(keys):
                if got[i] is None:
                    got[i] = ids.get(k)
                    if got[i] is None:
                        got[i] = ids[k] = len(ids)
                        new.append(kinds.setdefault(k.partition(":")[0], len(kinds)))
            start = len(ids) - len(new)
            self._kind_of = _grown(self._kind_of, len(ids), 0)
            self._kind_of[start : len(ids)] = new
        return cast("list[int]", got)  # every None above was filled in

    def apply(self, race_id: str, items: Items) -> bool:
        if race_id in self._applied:
            return False
        self._applied.add(race_id)
        if len(items) and items.ts.min() < self._hwm:
            self._epoch += 1
        keys, members = items.keys, items.members
        keep = items.firsts()
        if keep is not None:  # repeated (key, member): keep the first
            items = Items(
                [keys[i] for i in keep],
                items.ts[keep],
                [members[i] for i in keep],
                items.deltas[keep],
                {j: items.payloads[i] for j, i in enumerate(keep) if i in items.payloads},
            )
            keys, members = items.keys, items.members
        self._new_kid += self._intern(keys)
        self._new_ts.append(items.ts)
        self._new_deltas.append(items.deltas)
        for i, p in items.payloads.items():
            tl = self._recent.get(keys[i])
            if tl is None:
                tl = self._recent[keys[i]] = _Recent()
            tl.insert(float(items.ts[i]), members[i], p)
        return True

    def apply_many(self, races: Sequence[tuple[str, Items]]) -> list[bool]:
        return [self.apply(race_id, items) for race_id, items in races]

    def _absorb(self) -> None:
        """Move the buffered items into the log and the dense totals."""
        if not self._new_kid:
            return
        kid = np.array(self._new_kid, dtype=np.int64)
        ts = np.concatenate(self._new_ts).astype(float, copy=False)
        deltas = np.concatenate(self._new_deltas)
        self._new_kid, self._new_ts, self._new_deltas = [], [], []
        self._log.extend(kid, ts, deltas)
        n = len(self._ids)
        self._total = _grown(self._total, n, 0)
        self._latest = _grown(self._latest, n, -np.inf)
        np.add.at(self._total, kid, deltas)
        np.maximum.at(self._latest, kid, ts)

    def _kind_runs(self, kind: int) -> list[_Run]:
        """The runs of one key kind, after adding its log items not yet in them."""
        log, start = self._log, self._in_runs.get(kind, 0)
        runs = self._runs.setdefault(kind, [])
        if start < log.n:
            sel = np.flatnonzero(self._kind_of[log.kid[start : log.n]] == kind) + start
            self._in_runs[kind] = log.n
            if len(sel):
                runs.append(_Run(log.kid[sel], log.ts[sel], log.deltas[sel]))
                while len(runs) > 1 and len(runs[-2]) < _FANOUT * len(runs[-1]):
                    top = runs.pop()
                    runs[-1] = runs[-1].merged(top)
        return runs

    def _cums(self, keys: list[str], ts: np.ndarray) -> np.ndarray:
        kid = np.array(list(map(self._ids.get, keys, [-1] * len(keys))), dtype=np.int64)
        ts = np.asarray(ts, dtype=float)
        cums = np.zeros((len(kid), WIDTH), dtype=np.int64)
        known = kid >= 0
        after = known & (self._latest[np.maximum(kid, 0)] < ts)  # every item of the key is before ts
        cums[after] = self._total[kid[after]]
        inside = np.flatnonzero(known & ~after)
        if len(inside):
            kind = self._kind_of[kid[inside]]
            for k in np.unique(kind).tolist():
                rows = inside[kind == k]
                # in key order the runs are searched and gathered from nearly
                # in sequence: ten times faster than in the cards' order
                rows = rows[np.argsort(kid[rows], kind="stable")]
                part = np.zeros((len(rows), WIDTH), dtype=np.int64)
                for run in self._kind_runs(k):
                    part += run.sum_before(kid[rows], ts[rows])
                cums[rows] = part
        return cums

    def seen_epoch(self) -> str:
        return str(self._epoch)

    def current_epoch(self) -> str:
        return str(self._epoch)

    def read(self, reads: Reads) -> Answer:
        self._absorb()
        ahead = max((0.0, *reads.follow.offsets)) if reads.follow else 0.0
        for ts, extra in ((reads.cum_ts, 0.0), (reads.last_ts, ahead)):
            if len(ts):
                self._hwm = max(self._hwm, float(ts.max()) + extra)
        cums = self._cums(reads.cum_keys, reads.cum_ts)
        n = reads.last_n
        last_ts = reads.last_ts.tolist()
        lasts: list[list[dict[str, Any]]] = []
        for tl, t in zip(map(self._recent.get, reads.last_keys), last_ts, strict=True):
            if tl is None:
                lasts.append([])
            else:  # the last n before t, newest first (inline: once per runner of every card)
                pos = bisect_left(tl.ts, t)
                lasts.append(tl.payloads[max(0, pos - n) : pos][::-1])
        f = reads.follow
        offsets = f.offsets if f else ()
        followed = np.zeros((len(lasts), len(offsets), WIDTH), dtype=np.int64)
        ok = np.zeros(len(lasts), dtype=bool)
        if f:
            rows, keys = [], []
            for i, (hist, skip) in enumerate(zip(lasts, f.skip, strict=True)):
                v = hist[0].get(f.field) if hist and hist[0] else None
                if isinstance(v, str) and v and v != skip:
                    rows.append(i)
                    keys.append(f.prefix + v)
            if rows:
                at = np.asarray(last_ts)[rows]
                got = self._cums(keys * len(offsets), np.concatenate([at + o for o in offsets]))
                followed[rows] = got.reshape(len(offsets), len(rows), WIDTH).transpose(1, 0, 2)
                ok[rows] = True
        return Answer(cums, lasts, followed, ok)

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


#: mypy checks that MemoryStore has every method of the FeatureStore Protocol, with its signature
_conforms: type[FeatureStore] = MemoryStore
