"""Feature state in Redis, shared by every worker.

Each timeline is one sorted set: score = time, member = ``id NUL cumulative
NUL payload``. The NUL separator keeps Redis' order of equal-score members the
same as the in-process store's ``(time, id)`` order. A hash maps each id to its
current member, for idempotency and the rare out-of-order insert. Applying a
race and reading a card are each one Lua script call: atomic, one round trip
whatever the length of history, and one sorted-set read per query. Values are
the same integers the in-process store keeps, so both give identical features.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
import redis

from velo.features.store import WIDTH, Cum, CumBefore, Insert, Item, LastBefore, Query

_ZERO = (0,) * WIDTH
_SEP = b"\x00"

_APPLY = """
local prefix = ARGV[1]
local marker = prefix .. 'applied:' .. ARGV[2]
if redis.call('EXISTS', marker) == 1 then return 0 end
local SEP = string.char(0)
local function parse(member)
  local a = string.find(member, SEP, 1, true)
  local b = string.find(member, SEP, a + 1, true)
  return string.sub(member, 1, a - 1), cjson.decode(string.sub(member, a + 1, b - 1)), string.sub(member, b + 1)
end
local items = cjson.decode(ARGV[3])
for _, it in ipairs(items) do
  local key, ts, id, delta, payload = it[1], it[2], it[3], it[4], it[5]
  if type(payload) ~= 'string' then payload = '' end
  local z, m = prefix .. 'z:' .. key, prefix .. 'm:' .. key
  if redis.call('HEXISTS', m, id) == 0 then
    -- the item just before (ts, id): the last with a smaller score, or equal score and smaller id
    local cum = {}
    for i = 1, #delta do cum[i] = delta[i] end
    -- (at most 64 items may share one time with a larger id: ample for a race)
    local before = redis.call('ZREVRANGEBYSCORE', z, ts, '-inf', 'WITHSCORES', 'LIMIT', 0, 64)
    local later = {}
    for j = 1, #before, 2 do
      local pid, pcum = parse(before[j])
      if tonumber(before[j + 1]) < ts or pid < id then
        for i = 1, #delta do cum[i] = cum[i] + pcum[i] end
        break
      end
    end
    local member = id .. SEP .. cjson.encode(cum) .. SEP .. payload
    redis.call('ZADD', z, ts, member)
    redis.call('HSET', m, id, member)
    -- items that arrived earlier but sort later: add this delta to their sums
    local rank = redis.call('ZRANK', z, member)
    for _, mem in ipairs(redis.call('ZRANGE', z, rank + 1, -1, 'WITHSCORES')) do
      later[#later + 1] = mem
    end
    for j = 1, #later, 2 do
      local lid, lcum, lpay = parse(later[j])
      for i = 1, #delta do lcum[i] = lcum[i] + delta[i] end
      local nm = lid .. SEP .. cjson.encode(lcum) .. SEP .. lpay
      redis.call('ZREM', z, later[j])
      redis.call('ZADD', z, later[j + 1], nm)
      redis.call('HSET', m, lid, nm)
    end
  end
end
redis.call('SET', marker, 1)
return 1
"""

_READ = """
local prefix = ARGV[1]
local qs = cjson.decode(ARGV[2])
local out = {}
for i, q in ipairs(qs) do
  local upper = '(' .. string.format('%.17g', q[2])
  out[i] = redis.call('ZREVRANGEBYSCORE', prefix .. 'z:' .. q[1], upper, '-inf', 'LIMIT', 0, q[3])
end
return out
"""


def _split(member: bytes) -> tuple[Cum, bytes | None]:
    _, cum, payload = member.split(_SEP, 2)
    return tuple(int(x) for x in orjson.loads(cum)), payload or None


class RedisStore:
    """The Redis backend. ``prefix`` namespaces all keys (one per deployment or test)."""

    def __init__(self, client: redis.Redis, prefix: str = "velo:") -> None:
        self.client = client
        self.prefix = prefix
        self._apply = client.register_script(_APPLY)
        self._read = client.register_script(_READ)

    @classmethod
    def from_url(cls, url: str, prefix: str = "velo:") -> RedisStore:
        return cls(redis.Redis.from_url(url), prefix)

    def apply(self, race_id: str, inserts: Sequence[Insert]) -> bool:
        items = [
            [i.key, i.ts, i.member, list(i.delta), i.payload.decode() if i.payload is not None else None]
            for i in inserts
        ]
        return bool(self._apply(args=[self.prefix, race_id, orjson.dumps(items)]))

    def read(self, queries: Sequence[Query]) -> list[Cum | list[Item]]:
        if not queries:
            return []
        spec = [[q.key, q.ts, q.n if isinstance(q, LastBefore) else 1] for q in queries]
        raw = self._read(args=[self.prefix, orjson.dumps(spec)])
        out: list[Cum | list[Item]] = []
        for q, members in zip(queries, raw, strict=True):
            if isinstance(q, CumBefore):
                out.append(_split(members[0])[0] if members else _ZERO)
            else:
                out.append([_split(m) for m in members])
        return out

    def get_blob(self, key: str) -> bytes | None:
        return self.client.get(self.prefix + "b:" + key)

    def put_blob(self, key: str, value: bytes) -> None:
        self.client.set(self.prefix + "b:" + key, value)

    def get_blobs(self, keys: Sequence[str]) -> list[bytes | None]:
        return self.client.mget([self.prefix + "b:" + k for k in keys]) if keys else []

    def put_blobs(self, items: dict[str, bytes]) -> None:
        if items:
            self.client.mset({self.prefix + "b:" + k: v for k, v in items.items()})

    def delete_blob(self, key: str) -> None:
        self.client.delete(self.prefix + "b:" + key)

    def clear(self) -> None:
        """Delete every key under this store's prefix (tests, resets)."""
        for key in self.client.scan_iter(match=self.prefix + "*", count=1000):
            self.client.delete(key)
