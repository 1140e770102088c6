"""Feature state in Redis, shared by every worker.

Each timeline is one sorted set of its counters, score = time, member = ``id
NUL cumulative``, and the items that carry a payload (a horse's runs) are also
in a second sorted set, member = ``id NUL payload``. The NUL separator keeps
Redis' order of equal-score members the same as the in-process store's
``(time, id)`` order. A marker per race makes applying it idempotent: its
items go in with the marker in one atomic script call. Applying races and
reading a card are each one Lua script call: one round trip whatever the
length of history, and one sorted-set read per query (the form book's speed
figures make two more reads, see ``velo.features.formbook``). Values are the same integers
the in-process store keeps, so both give identical features.

Timeline keys live under ``f2:`` (the second layout: payloads apart from the
counters). State written by the first layout is not read: after upgrading,
replay history into Redis (``velo replay``) or the features start empty.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any, cast

import numpy as np
import orjson
import redis

from velo import keys
from velo.features.store import WIDTH, Answer, FeatureStore, Items, Reads

_ZERO = [0] * WIDTH


_APPLY = """
local prefix = ARGV[1]
local SEP = string.char(0)
local function parse(member)
  local a = string.find(member, SEP, 1, true)
  return string.sub(member, 1, a - 1), cjson.decode(string.sub(member, a + 1))
end
-- ARGV[2]: {"r": [race_id, ...], "k": [[key, [[ts, id, delta, payload, race], ...]], ...]}
-- with each key's items sorted by (ts, id); race is an index into r, and
-- payload is 0 or the index of the item's payload among ARGV[3], ARGV[4], ...
-- (apart, so that the JSON to decode stays small and unescaped)
local spec = cjson.decode(ARGV[2])
local out, fresh, seen = {}, {}, {}
for i, race_id in ipairs(spec.r) do
  if seen[race_id] or redis.call('EXISTS', prefix .. 'f2:applied:' .. race_id) == 1 then
    out[i] = 0
  else
    out[i], fresh[i], seen[race_id] = 1, true, true
  end
end
local hwm = tonumber(redis.call('GET', prefix .. 'hwm') or '-inf')
local late = false
-- one item inserted where it sorts, for a key that already has later items:
-- find the item just before it, then add its delta to every item after it
local function insert(z, pkey, it)
  local ts, id, cum, payload = it[1], it[2], it[3], it[4]
  local delta = {}
  for i = 1, #cum do delta[i] = cum[i] end
  local prev = nil
  local same = redis.call('ZRANGEBYSCORE', z, ts, ts)
  for j = #same, 1, -1 do
    local pid, pcum = parse(same[j])
    if pid < id then prev = pcum; break end
  end
  if prev == nil then
    -- ('(' .. ts) formats ts as redis.call formats the score ZADD stores
    local before = redis.call('ZREVRANGEBYSCORE', z, '(' .. ts, '-inf', 'LIMIT', 0, 1)
    if #before > 0 then
      local _, pcum = parse(before[1])
      prev = pcum
    end
  end
  if prev ~= nil then
    for i = 1, #cum do cum[i] = cum[i] + prev[i] end
  end
  local member = id .. SEP .. cjson.encode(cum)
  redis.call('ZADD', z, ts, member)
  if payload > 0 then redis.call('ZADD', pkey, ts, id .. SEP .. ARGV[2 + payload]) end
  local rank = redis.call('ZRANK', z, member)
  local later = redis.call('ZRANGE', z, rank + 1, -1, 'WITHSCORES')
  for j = 1, #later, 2 do
    local lid, lcum = parse(later[j])
    for i = 1, #delta do lcum[i] = lcum[i] + delta[i] end
    redis.call('ZREM', z, later[j])
    redis.call('ZADD', z, later[j + 1], lid .. SEP .. cjson.encode(lcum))
  end
end
local function zadd(key, args)
  -- in slices: unpack() of a very long list overflows Lua's stack
  for s = 1, #args, 2000 do
    redis.call('ZADD', key, unpack(args, s, math.min(s + 1999, #args)))
  end
end
for _, group in ipairs(spec.k) do
  local live = {}
  for _, it in ipairs(group[2]) do
    if fresh[it[5]] then
      live[#live + 1] = it
      if it[1] < hwm then late = true end
    end
  end
  if #live > 0 then
    local z, pkey = prefix .. 'f2:z:' .. group[1], prefix .. 'f2:p:' .. group[1]
    local top = redis.call('ZREVRANGE', z, 0, 0, 'WITHSCORES')
    if #top == 0 or tonumber(top[2]) < live[1][1] then
      -- the usual case: every item is later than the key's newest, so the
      -- sums run on from it and all of them go in with one ZADD
      local prev = nil
      if #top > 0 then
        local _, pcum = parse(top[1])
        prev = pcum
      end
      local zs, ps = {}, {}
      for _, it in ipairs(live) do
        local cum = it[3]
        if prev ~= nil then
          for i = 1, #cum do cum[i] = cum[i] + prev[i] end
        end
        prev = cum
        zs[#zs + 1] = it[1]
        zs[#zs + 1] = it[2] .. SEP .. cjson.encode(cum)
        if it[4] > 0 then
          ps[#ps + 1] = it[1]
          ps[#ps + 1] = it[2] .. SEP .. ARGV[2 + it[4]]
        end
      end
      zadd(z, zs)
      if #ps > 0 then zadd(pkey, ps) end
    else
      for _, it in ipairs(live) do insert(z, pkey, it) end
    end
  end
end
-- an item older than a time some reader has already cached answers for
-- changes those answers: move the epoch on, so every reader's cache resets
if late then redis.call('INCR', prefix .. 'epoch') end
for i, race_id in ipairs(spec.r) do
  if fresh[i] then redis.call('SET', prefix .. 'f2:applied:' .. race_id, 1) end
end
return out
"""

# The answer is one JSON document built on the server from the members' own
# JSON parts, so the client parses a whole card's read in one orjson call
# instead of walking hundreds of RESP replies. ``hwm`` is the latest time any
# reader has asked about and ``epoch`` moves on when an insert lands before it
# (see RedisStore.read); a reader whose cache is from another epoch gets no
# answers (``a`` null) and asks again without its cache.
_READ = """
local prefix = ARGV[1]
local epoch = redis.call('GET', prefix .. 'epoch') or '0'
if ARGV[3] ~= '' and ARGV[3] ~= epoch then return '{"e":"' .. epoch .. '","a":null}' end
local qs = cjson.decode(ARGV[2])
local hwm = tonumber(redis.call('GET', prefix .. 'hwm') or '-inf')
local top = hwm
-- ARGV[4]: what recent reads follow (see velo.features.store.Follow), or ''
local follow = nil
if ARGV[4] ~= '' then follow = cjson.decode(ARGV[4]) end
local ahead = 0  -- a followed read may look later than its own time
if follow ~= nil then
  for _, o in ipairs(follow.o) do
    if o > ahead then ahead = o end
  end
end
for _, q in ipairs(qs) do
  if q[2] + ahead > top then top = q[2] + ahead end
end
if top > hwm then redis.call('SET', prefix .. 'hwm', string.format('%.17g', top)) end
local SEP = string.char(0)
local out = {}
-- a card's reads share a handful of times: format each bound once
local bounds = {}
local function bound_of(t)
  local b = bounds[t]
  if b == nil then
    b = '(' .. string.format('%.17g', t)
    bounds[t] = b
  end
  return b
end
for i, q in ipairs(qs) do
  local bound = bound_of(q[2])
  if q[4] == 0 then
    local ms = redis.call('ZREVRANGEBYSCORE', prefix .. 'f2:z:' .. q[1], bound, '-inf', 'LIMIT', 0, 1)
    if #ms == 0 then
      out[i] = 'null'
    else
      out[i] = string.sub(ms[1], string.find(ms[1], SEP, 1, true) + 1)
    end
  else
    local ms = redis.call('ZREVRANGEBYSCORE', prefix .. 'f2:p:' .. q[1], bound, '-inf', 'LIMIT', 0, q[3])
    local parts = {}
    for j, m in ipairs(ms) do
      parts[j] = string.sub(m, string.find(m, SEP, 1, true) + 1)
    end
    local runs = '[' .. table.concat(parts, ',') .. ']'
    if follow == nil then
      out[i] = runs
    else
      -- the newest payload's field names a key whose counters come back too
      local fs = 'null'
      if #parts > 0 then
        local v = cjson.decode(parts[1])[follow.f]
        if type(v) == 'string' and v ~= '' and v ~= q[5] then
          local got = {}
          for j, o in ipairs(follow.o) do
            local fb = bound_of(q[2] + o)
            local fm = redis.call('ZREVRANGEBYSCORE', prefix .. 'f2:z:' .. follow.p .. v, fb, '-inf', 'LIMIT', 0, 1)
            got[j] = #fm == 0 and 'null' or string.sub(fm[1], string.find(fm[1], SEP, 1, true) + 1)
          end
          fs = '[' .. table.concat(got, ',') .. ']'
        end
      end
      out[i] = '[' .. runs .. ',' .. fs .. ']'
    end
  end
end
return '{"e":"' .. epoch .. '","a":[' .. table.concat(out, ',') .. ']}'
"""


class RedisStore:
    """The Redis backend. ``prefix`` namespaces all keys (one per deployment or test)."""

    def __init__(self, client: redis.Redis, prefix: str = "velo:", cache_size: int = 200_000) -> None:
        self.client = client
        self.prefix = prefix
        self.cache_size = cache_size
        self._apply = client.register_script(_APPLY)
        self._read = client.register_script(_READ)
        #: answers as the read script gives them (decoded JSON), by query: a
        #: cumulative vector; a recent read's payloads; or, for a followed
        #: read, [payloads, the followed vector per offset or None]
        self._cache: dict[tuple, list[Any]] = {}
        self._epoch = ""

    @classmethod
    def from_url(cls, url: str, prefix: str = "velo:") -> RedisStore:
        return cls(redis.Redis.from_url(url), prefix)

    def apply(self, race_id: str, items: Items) -> bool:
        return self.apply_many([(race_id, items)])[0]

    def apply_many(self, races: Sequence[tuple[str, Items]]) -> list[bool]:
        """One script call for the lot: the items grouped by key and sorted by
        (time, id), so a key's new items take one read and one write however
        many races of the batch touch it. A repeated (key, member) within a
        race counts once (the first), as in the in-process store."""
        if not races:
            return []
        by_key: dict[str, list[list]] = {}
        payloads: list[bytes] = []
        for r, (_, it) in enumerate(races, start=1):  # Lua counts from 1
            firsts = it.firsts()
            keep: Iterable[int] = range(len(it)) if firsts is None else firsts
            ts, deltas, pay = it.ts.tolist(), it.deltas.tolist(), it.payloads
            for i in keep:
                p = pay.get(i)
                if p is not None:
                    payloads.append(keys.encode_payload(p))
                k, m = it.keys[i], it.members[i]
                row = [ts[i], m, deltas[i], 0 if p is None else len(payloads), r]
                group = by_key.get(k)
                if group is None:
                    by_key[k] = [row]
                else:
                    group.append(row)
        for group in by_key.values():
            group.sort(key=itemgetter(0, 1))  # (time, id)
        spec = {"r": [race_id for race_id, _ in races], "k": list(by_key.items())}
        return [bool(x) for x in self._apply(args=[self.prefix, orjson.dumps(spec), *payloads])]

    def read(self, reads: Reads) -> Answer:
        """Answers from this process's cache where it has them, the rest from Redis.

        An answer about time ``t`` only changes if an item older than ``t``
        arrives. In the usual order (a day's results before the next day's
        cards) none does, so answers are cached per (key, time) and every
        worker reads each one once a day. The read script checks, atomically
        with reading the misses, that no such late item has landed since this
        cache was filled (the epoch); if one has, the cache is dropped and
        everything is read again, so a cached answer is never stale.

        The mark is the latest time ever read, so a read far in the future
        (a card dated years ahead through POST /predict) makes every later
        result count as late: answers stay exact, only the cache stops paying.
        """
        n, f = reads.last_n, reads.follow
        ids: list[tuple] = list(zip(reads.cum_keys, reads.cum_ts.tolist(), [0] * len(reads.cum_keys), strict=True))
        if f is None:
            ids += zip(reads.last_keys, reads.last_ts.tolist(), [n] * len(reads.last_keys), strict=True)
        else:  # a followed answer depends on what it skips, and on what and where it follows
            rule = (f.field, f.prefix, f.offsets)
            ids += ((k, t, n, s, rule) for k, t, s in zip(reads.last_keys, reads.last_ts.tolist(), f.skip, strict=True))
        offsets = f.offsets if f else ()
        k, m = len(reads.cum_keys), len(reads.last_keys)
        if not ids:
            return Answer(
                np.zeros((0, WIDTH), dtype=np.int64),
                [],
                np.zeros((0, len(offsets), WIDTH), dtype=np.int64),
                np.zeros(0, dtype=bool),
            )
        follow = orjson.dumps({"f": f.field, "p": f.prefix, "o": list(f.offsets)}) if f else b""
        for _ in range(2):
            cache = self._cache
            missing = list(dict.fromkeys(i for i in ids if i not in cache))
            spec = [[i[0], i[1], i[2] or 1, 1 if i[2] else 0, *i[3:4]] for i in missing]
            # called even when every answer is cached: the script checks the epoch
            reply = orjson.loads(self._read(args=[self.prefix, orjson.dumps(spec), self._epoch, follow]))
            if reply["a"] is None:  # a late insert: everything cached may be stale
                self._cache, self._epoch = {}, reply["e"]
                continue
            if reply["e"] != self._epoch or len(cache) + len(missing) > self.cache_size:
                cache.clear()
                self._epoch = reply["e"]
            got: dict[tuple, list[Any]] = {
                i: (a if i[2] or a is not None else _ZERO) for i, a in zip(missing, reply["a"], strict=True)
            }
            cache.update(got)
            answers = [got[i] if i in got else cache[i] for i in ids]
            cums = np.array(answers[:k], dtype=np.int64).reshape(k, WIDTH)
            if f is None:
                return Answer(cums, answers[k:], np.zeros((m, 0, WIDTH), dtype=np.int64), np.zeros(m, dtype=bool))
            followed = np.zeros((m, len(offsets), WIDTH), dtype=np.int64)
            ok = np.array([a[1] is not None for a in answers[k:]], dtype=bool)
            for row, (_, fs) in enumerate(answers[k:]):
                if fs is not None:
                    followed[row] = [_ZERO if x is None else x for x in fs]
            return Answer(cums, [a[0] for a in answers[k:]], followed, ok)
        raise RuntimeError("the feature store's epoch moved twice during one read")

    def seen_epoch(self) -> str:
        return self._epoch

    def current_epoch(self) -> str:
        got = cast("bytes | None", self.client.get(self.prefix + "epoch"))  # the client does not decode responses
        return "0" if got is None else got.decode()

    def get_blob(self, key: str) -> bytes | None:
        return cast("bytes | None", self.client.get(self.prefix + "b:" + key))  # the client does not decode responses

    def put_blob(self, key: str, value: bytes) -> None:
        self.client.set(self.prefix + "b:" + key, value)

    def get_blobs(self, keys: Sequence[str]) -> list[bytes | None]:
        # the client does not decode responses: bytes or None
        return cast("list[bytes | None]", self.client.mget([self.prefix + "b:" + k for k in keys])) if keys else []

    def put_blobs(self, items: dict[str, bytes]) -> None:
        if items:
            self.client.mset({self.prefix + "b:" + k: v for k, v in items.items()})

    def delete_blob(self, key: str) -> None:
        self.client.delete(self.prefix + "b:" + key)

    def delete_blobs(self, keys: Sequence[str]) -> None:
        if keys:
            self.client.delete(*[self.prefix + "b:" + k for k in keys])

    def clear(self) -> None:
        """Delete every key under this store's prefix (tests, resets)."""
        for key in self.client.scan_iter(match=self.prefix + "*", count=1000):
            self.client.delete(key)
        # a fresh epoch no reader can hold, so other processes' caches reset too
        self.client.set(self.prefix + "epoch", str(time.time_ns()))
        self._cache, self._epoch = {}, ""


#: mypy checks that RedisStore has every method of the FeatureStore Protocol, with its signature
_conforms: type[FeatureStore] = RedisStore
