"""The Redis backend of ``EventStore`` (``redis://``, ``rediss://``, ``unix://``).

Replicas of a service behind a load balancer share it: every decision is one Lua
script (atomic on the server), timed by the server's ``TIME``, every key under one
hash tag ``{KEY}``:

``{KEY}:seq``  counter          ``{KEY}:ev``   hash seq -> event JSON
``{KEY}:free`` zset seq -> lease end (0: nobody holds it)
``{KEY}:own``  hash seq -> owner  ``{KEY}:att`` hash seq -> attempts
``{KEY}:tail:OBJECT``  the object's recent keys (JSON list), expires with the window
``{KEY}:cur:NAME`` / ``{KEY}:ckc:NAME`` / ``{KEY}:cks:NAME``  a watch cursor: since,
key counts, key last-finished times

Needs the ``redis`` extra (coredis).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

import anyio
import coredis
import coredis.exceptions

from ._event_store import (
    OTHER_STORES,
    TAIL,
    Accepted,
    EventStore,
    EventStoreError,
    StoredEvent,
    WatchCursor,
    _object_of,
)
from ._webhooks import event_key, key_text
from .models import Event, structure

__all__ = ["RedisEventStore"]

DEFAULT_KEY: Final = "worksection_async:events"
_USERINFO: Final = re.compile(r"(?<=://)[^@/]*@")
_ERRORS: Final = (
    coredis.exceptions.RedisError,
    OSError,
    TimeoutError,
    RuntimeError,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    anyio.EndOfStream,
)

_NOW: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""

_ACCEPT: Final = (
    _NOW
    + """
local p = KEYS[1]
local window = tonumber(ARGV[1])
local tail_max = tonumber(ARGV[2])
local plan = cjson.decode(ARGV[3])
local backfill = ARGV[4] == '1'
local known_of = {}
local repeats = 0
local function run_at(tail, keys, start, count)
  for j = 1, count do
    if tail[start + j - 1] ~= keys[j] then return false end
  end
  return true
end
for i, entry in ipairs(plan.objects) do
  local obj, keys = entry[1], entry[2]
  local raw = redis.call('GET', p .. ':tail:' .. obj)
  local tail = {}
  if raw then tail = cjson.decode(raw) end
  local n, m = #keys, #tail
  local known = 0
  if n <= m and run_at(tail, keys, m - n + 1, n) then
    known = n
  elseif backfill then
    for start = 1, m - n + 1 do
      if run_at(tail, keys, start, n) then known = n break end
    end
    if known == 0 then
      for k = math.min(n - 1, m), 1, -1 do
        if run_at(tail, keys, m - k + 1, k) then known = k break end
      end
    end
  end
  known_of[i] = known
  repeats = repeats + known
  for j = known + 1, n do tail[#tail + 1] = keys[j] end
  while #tail > tail_max do table.remove(tail, 1) end
  if window > 0 then
    redis.call('SET', p .. ':tail:' .. obj, cjson.encode(tail), 'PX', math.floor(window * 1000))
  end
end
local new = 0
local seen_of = {}
for _, ev in ipairs(plan.events) do
  local obj = ev[1]
  seen_of[obj] = (seen_of[obj] or 0) + 1
  if seen_of[obj] > known_of[obj] then
    local seq = redis.call('INCR', p .. ':seq')
    redis.call('HSET', p .. ':ev', seq, ev[2])
    redis.call('ZADD', p .. ':free', 0, seq)
    new = new + 1
  end
end
return {new, repeats}
"""
)

_TAKE: Final = (
    _NOW
    + """
local p = KEYS[1]
local owner, lease, done = ARGV[1], tonumber(ARGV[2]), ARGV[3]
if done ~= '' then
  redis.call('HDEL', p .. ':ev', done)
  redis.call('HDEL', p .. ':own', done)
  redis.call('HDEL', p .. ':att', done)
  redis.call('ZREM', p .. ':free', done)
end
if owner == '' then return false end
while true do
  local found = redis.call('ZRANGEBYSCORE', p .. ':free', '-inf', now, 'LIMIT', 0, 1)
  if #found == 0 then return false end
  local seq = found[1]
  local body = redis.call('HGET', p .. ':ev', seq)
  if body then
    redis.call('ZADD', p .. ':free', now + lease, seq)
    redis.call('HSET', p .. ':own', seq, owner)
    local attempts = redis.call('HINCRBY', p .. ':att', seq, 1)
    return {seq, body, attempts}
  end
  redis.call('ZREM', p .. ':free', seq)  -- forgotten already: never in the way
end
"""
)

_RENEW: Final = (
    _NOW
    + """
local p = KEYS[1]
local owner, lease = ARGV[1], tonumber(ARGV[2])
for i = 3, #ARGV do
  if redis.call('HGET', p .. ':own', ARGV[i]) == owner then
    if lease > 0 then
      redis.call('ZADD', p .. ':free', 'XX', now + lease, ARGV[i])
    else
      redis.call('ZADD', p .. ':free', 'XX', 0, ARGV[i])
      redis.call('HDEL', p .. ':own', ARGV[i])
    end
  end
end
return 1
"""
)

_SAVE_CURSOR: Final = """
local p = KEYS[1]
local name, since, before, now = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
redis.call('SET', p .. ':cur:' .. name, since)
for i = 5, #ARGV do
  redis.call('HINCRBY', p .. ':ckc:' .. name, ARGV[i], 1)
  redis.call('HSET', p .. ':cks:' .. name, ARGV[i], now)
end
local seen = redis.call('HGETALL', p .. ':cks:' .. name)
for i = 1, #seen, 2 do
  if tonumber(seen[i + 1]) < before then
    redis.call('HDEL', p .. ':cks:' .. name, seen[i])
    redis.call('HDEL', p .. ':ckc:' .. name, seen[i])
  end
end
return 1
"""


class RedisEventStore(EventStore):
    """``redis://``: one Lua script per decision, shared by replicas."""

    def __init__(self, redis: coredis.Redis[str], *, key: str, shown: str) -> None:
        self._redis = redis
        self._prefix = "{" + key + "}"
        self._shown = shown
        self._accept = redis.register_script(_ACCEPT)
        self._take = redis.register_script(_TAKE)
        self._renew = redis.register_script(_RENEW)
        self._save_cursor = redis.register_script(_SAVE_CURSOR)
        self._users = 0
        self._stack: contextlib.AsyncExitStack | None = None

    def __repr__(self) -> str:
        return f"<EventStore {self._shown}>"

    @classmethod
    def connect(cls, url: str, *, key: str = DEFAULT_KEY) -> RedisEventStore:
        shown = _USERINFO.sub("***@", url)
        try:
            redis: coredis.Redis[str] = coredis.Redis.from_url(
                url, decode_responses=True, connect_timeout=5, stream_timeout=5
            )
        except (ValueError, TypeError):
            raise ValueError(f"not a valid Redis URL: {shown!r}") from None
        return cls(redis, key=key, shown=shown)

    async def open(self) -> None:
        self._users += 1
        if self._users > 1:
            return
        try:
            async with contextlib.AsyncExitStack() as stack:
                await stack.enter_async_context(self._redis.connection_pool)
                self._stack = stack.pop_all()
        except BaseException:
            self._users -= 1
            raise

    async def aclose(self) -> None:
        if self._users == 0:
            return
        self._users -= 1
        if self._users == 0 and self._stack is not None:
            stack, self._stack = self._stack, None
            await stack.aclose()

    async def _call(self, operation: Any) -> Any:
        if self._users == 0:
            raise EventStoreError(
                f"event store {self._shown} is not open: enter it (async with store) or "
                "start the receiver that uses it"
            )
        try:
            with anyio.fail_after(10):
                return await operation
        except _ERRORS as exc:
            detail = _USERINFO.sub("***@", str(exc)) or "no answer"
            raise EventStoreError(
                f"event store {self._shown}: {type(exc).__name__}: {detail}"
            ) from None

    async def accept(
        self,
        items: Sequence[tuple[Mapping[str, object], Event]],
        *,
        dedup_window: float,
        backfill: bool = False,
    ) -> Accepted:
        objects: dict[str, int] = {}
        keyed: list[list[Any]] = []
        events: list[list[Any]] = []
        for raw, event in items:
            obj = _object_of(event)
            if obj not in objects:
                objects[obj] = len(keyed) + 1  # Lua counts from 1
                keyed.append([obj, []])
            keyed[objects[obj] - 1][1].append(key_text(event_key(event)))
            events.append(
                [objects[obj], json.dumps(raw, ensure_ascii=False, separators=(",", ":"))]
            )
        plan = json.dumps({"objects": keyed, "events": events}, ensure_ascii=False)
        reply = await self._call(
            self._accept(
                keys=[self._prefix], args=[dedup_window, TAIL, plan, "1" if backfill else "0"]
            )
        )
        return Accepted(new=int(reply[0]), repeats=int(reply[1]))

    async def take(
        self, owner: str, lease: float, *, done: int | None = None
    ) -> StoredEvent | None:
        reply = await self._call(
            self._take(keys=[self._prefix], args=[owner, lease, "" if done is None else done])
        )
        if not reply:
            return None
        seq, body, attempts = reply
        if body is None:  # forgotten meanwhile
            return None
        return StoredEvent(
            seq=int(seq), event=structure(json.loads(body), Event), attempts=int(attempts)
        )

    async def renew(self, seqs: Sequence[int], owner: str, lease: float) -> None:
        await self._call(self._renew(keys=[self._prefix], args=[owner, lease, *seqs]))

    async def release(self, seqs: Sequence[int], owner: str) -> None:
        await self._call(self._renew(keys=[self._prefix], args=[owner, 0, *seqs]))

    async def done(self, seq: int) -> None:
        # The take script with no owner only forgets ``seq``: one atomic step.
        await self._call(self._take(keys=[self._prefix], args=["", 0, seq]))

    async def pending(self) -> int:
        count: int = await self._call(self._redis.hlen(f"{self._prefix}:ev"))
        return count

    async def load_cursor(self, name: str) -> WatchCursor | None:
        p = self._prefix

        async def load() -> WatchCursor | None:
            since = await self._redis.get(f"{p}:cur:{name}")
            if since is None:
                return None
            counts = await self._redis.hgetall(f"{p}:ckc:{name}")
            return WatchCursor(since=float(since), finished={k: int(v) for k, v in counts.items()})

        cursor: WatchCursor | None = await self._call(load())
        return cursor

    async def save_cursor(
        self, name: str, since: float, finished: Sequence[str], *, now: float, forget_before: float
    ) -> None:
        await self._call(
            self._save_cursor(
                keys=[self._prefix], args=[name, repr(since), forget_before, now, *finished]
            )
        )


def _connect(url: str, key: str | None) -> RedisEventStore:
    return RedisEventStore.connect(url, key=key or DEFAULT_KEY)


OTHER_STORES["redis"] = _connect
