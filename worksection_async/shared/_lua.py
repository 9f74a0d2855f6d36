"""The shared quota's one Lua script: every decision on the shared state, atomically.

It is ``_throttle.py`` moved into Redis: the control law (``_Law``), the two pacing
buckets and the pause gate, line for line (``tests/test_shared_conformance.py`` feeds
the same outcomes at the same times to both and compares them). One call of the script
is one atomic decision: it applies the outcomes a process reports, then (when asked)
reserves the next moment a request may leave, all timed by the Redis server's clock
(``TIME``), never a process's.

``KEYS``: ``{tag}:state`` (a hash: the law, the buckets, the gate, the counters) and
``{tag}:members`` (a sorted set: process ids by the server time they were last seen).
Both get an expiry on every call, so a key nobody uses disappears.

``ARGV``:

1. ``ceiling`` (the configured rate, requests/s), 2. ``floor`` (requests/s),
3. ``decrease``, 4. ``margin``, 5. ``recovery`` (s), 6. ``burst``, 7. the keys' expiry
(ms), 8. the process id, 9. ``1`` to reserve a moment, ``0`` only to report,
10. the longest wait the caller accepts (s; empty: any), 11. the time to use instead of
``TIME`` (empty in production; the conformance test drives time with it),
12. the channel a gate closure is published on, 13. how late after their reserved
moments the process's requests leave (s, its recent 90th percentile, at most
``MAX_JITTER`` of the interval) or, while error 20s are recent, how unevenly they reach
the API (the spread of its answers' times after their moments), whichever is more, 14... the
outcomes since the process's last call, oldest first: ``s`` (a success) or
``s<granted>`` (a success of the request granted at server time ``granted``: the law
then knows how long it took, and explains an error 20 that a slow success caused;
processes report plain ``s``, as their reports reach the script later than the answers)
or ``e<granted>:<u>`` (an error 20 of the request granted at server time ``granted``;
``u`` in [0, 1) draws the pause's jitter).

Reservations: a reservation takes its token at once and returns how long the caller
must sleep (relative seconds: a host whose clock is off by minutes still sleeps the
right time). The buckets may run ahead of the server's clock; ``q`` keeps, for each
reservation not yet due, the buckets as they were before it. When the gate closes (an
error 20's pause, or a contended account's turn passing), every reservation not yet due
is void: a pause restarts the buckets at its end (as the local throttle does), a turn
puts them back as they were before the earliest void reservation, so nothing reserved
and not used is lost. The generation ``gen`` counts closures; it is published on the
channel (after ``born``, when the state was made, since a state that expired or a
server restarted without persistence counts again from zero), and a process sleeping
toward a reservation of an older generation wakes up and reserves again. A crashed
process holds nothing: its reservation is one moment that passes (or is voided and
given back by the next closure).

One difference from the local throttle, where a caller takes its token when it wakes
(so the spacing holds between the times requests really leave): a reservation is a
moment computed in advance, and a process wakes a little after it, by a different
amount each time, and its request reaches the API later still, by a different amount
each time. The processes report that spread; the script keeps the largest report
(halving every ``JITTER_HALF_LIFE`` seconds, at most ``MAX_SPREAD`` of the interval) and
spaces reservations by that much more in the spacing bucket. With no report (the
conformance test) the script and the throttle agree exactly.

The reply is a flat array of strings (Lua numbers would be truncated to integers),
see ``_Reply`` in ``_quota.py``.
"""

from __future__ import annotations

import string
from typing import Final

from .._rate_limit import _EPSILON
from .._throttle import (
    CARRY,
    CONTENDED_FOR,
    CUT_WINDOW,
    LATE,
    MARGIN_HALF_LIFE,
    MARGIN_STEP,
    MAX_LEARNED_MARGIN,
    PAUSE_JITTER,
    STARVING,
    STEP_ASIDE,
    SWEEP,
    SWEEP_SPREAD,
    TURN,
    TURN_JITTER,
)

__all__ = ["MAX_JITTER", "MAX_SPREAD", "MEMBER_TTL", "QUOTA_SCRIPT"]

MEMBER_TTL: Final = 30.0
"""Seconds a process counts as present on the key after its last call."""

MAX_QUEUE: Final = 512
"""Reservations not yet due that are remembered (only the latest, past that)."""

JITTER_HALF_LIFE: Final = 10.0
"""Seconds in which the remembered spread of send times halves (processes report it
with every call, so it follows the slowest of them)."""

MAX_JITTER: Final = 0.1
"""A process counts how late it leaves after its moments up to this fraction of the
configured interval..."""

MAX_SPREAD: Final = 0.4
"""...and, while error 20s are recent, how unevenly its requests reach the API up to
this fraction: the spread kept between reservations is at most this much (requests
that reach a one-token bucket 0 to 40 % of an interval late need that much more
between them)."""

_TEMPLATE = r"""
if redis.replicate_commands then pcall(redis.replicate_commands) end

local PAUSE_JITTER = $pause_jitter
local CUT_WINDOW = $cut_window
local TURN = $turn
local STEP_ASIDE = $step_aside
local CONTENDED_FOR = $contended_for
local STARVING = $starving
local TURN_JITTER = $turn_jitter
local SWEEP = $sweep
local SWEEP_SPREAD = $sweep_spread
local LATE = $late
local CARRY = $carry
local MARGIN_STEP = $margin_step
local MARGIN_HALF_LIFE = $margin_half_life
local MAX_LEARNED_MARGIN = $max_learned_margin
local EPS = $epsilon
local MEMBER_TTL = $member_ttl
local MAX_QUEUE = $max_queue
local JITTER_HALF_LIFE = $jitter_half_life
local MAX_SPREAD = $max_spread
local NEG = -math.huge

local state_key, members_key = KEYS[1], KEYS[2]
local CEIL = tonumber(ARGV[1])
local FLOOR = tonumber(ARGV[2])
local BETA = tonumber(ARGV[3])
local MARGIN = tonumber(ARGV[4])
local RECOVERY = tonumber(ARGV[5])
local BURST = tonumber(ARGV[6])
local TTL_MS = ARGV[7]
local MEMBER = ARGV[8]
local RESERVE = ARGV[9] == '1'
local MAX_WAIT = tonumber(ARGV[10])
local NOW = tonumber(ARGV[11])
local CHANNEL = ARGV[12]
local REPORTED_JITTER = tonumber(ARGV[13]) or 0.0
if NOW == nil then
  local t = redis.call('TIME')
  NOW = tonumber(t[1]) + tonumber(t[2]) / 1000000
end

local function fmt(x) return string.format('%.17g', x) end
local function num(v, default)
  local n = v and tonumber(v)
  if not n then return default end
  return n
end

local F = redis.call('HMGET', state_key, 'w', 'since', 'cu', 'held', 'recent', 'wid',
  'wat', 's', 'p', 'stamp', 'pu', 'lp', 'gen', 'q', 'calls', 'errors', 'jit', 'jat', 'born',
  'ok', 'okl', 'stepped', 'ceil')
local W = num(F[1], nil)            -- the plateau (nil: never cut)
local SINCE = num(F[2], NEG)        -- time of the latest cut
local CU = num(F[3], NEG)           -- contended until
local HELD = num(F[4], NEG)         -- when this turn on the account began (NEG: none)
local RECENT = F[5] or ''           -- latest outcomes, oldest first: '1' an error 20
local WID = num(F[6], 0)            -- the learned margin when it was last widened...
local WAT = num(F[7], NEG)          -- ...and when
local S = num(F[8], 1)              -- the spacing bucket's tokens at STAMP
local P = num(F[9], 1)              -- the pacing bucket's tokens at STAMP
local STAMP = num(F[10], nil)       -- nil: never used
local PU = num(F[11], 0)            -- paused until
local LP = num(F[12], NEG)          -- the latest pause started then
local GEN = num(F[13], 0)           -- gate closures so far
local Q = F[14] or ''               -- reservations not yet due: 'at,s,p,stamp;...'
local CALLS = num(F[15], 0)
local ERRORS = num(F[16], 0)
-- The spread of the processes' send times around their reserved moments (s), decaying.
local JIT = num(F[17], 0.0)
local JAT = num(F[18], NOW)
-- When this state was made: a generation counts closures of one state only (a server
-- restarted without persistence, or an expired key, starts again from nothing).
local BORN = F[19] or fmt(NOW)
local OK = num(F[20], NEG)          -- when the latest success was reported...
local OKL = num(F[21], nil)         -- ...and how long its request took (nil: not known)
local STEPPED = F[22] == '1'        -- stepped aside after its turn, no success since
-- One configured rate per key: a process configured otherwise is refused while others
-- that use the key's rate are present (once they are gone, the key takes its rate).
if F[23] and tonumber(F[23]) ~= CEIL then
  local others = redis.call('ZCOUNT', members_key, '(' .. fmt(NOW - MEMBER_TTL), '+inf')
  if redis.call('ZSCORE', members_key, MEMBER) then others = others - 1 end
  if others > 0 then return {'conflict', F[23], fmt(CEIL)} end
end
JIT = JIT * 0.5 ^ (math.max(0.0, NOW - JAT) / JITTER_HALF_LIFE)
JIT = math.min(MAX_SPREAD / CEIL, math.max(JIT, REPORTED_JITTER))

-- Reservations that are due are spent: forget them.
local kept = {}
for entry in string.gmatch(Q, '[^;]+') do
  local at = tonumber(string.match(entry, '^[^,]+'))
  if at > NOW then kept[#kept + 1] = entry end
end
while #kept > MAX_QUEUE do table.remove(kept, 1) end

-- The law (_throttle._Law) ------------------------------------------------------------

local function climb(w) return RECOVERY * (w / CEIL) ^ (1.0 / 3.0) end

local function rate(now)
  if W == nil then return CEIL end
  local k = climb(W)
  local t = now - SINCE
  local r
  if t <= k then
    r = W - W * (1.0 - BETA) * (1.0 - t / k) ^ 3
  else
    r = W + (CEIL - W) * ((t - k) / RECOVERY) ^ 3
  end
  return math.min(CEIL, math.max(FLOOR, r))
end

local function contended(now) return now < CU end

local function widening(now)
  if WID == 0 then return 0.0 end
  local half_life = MARGIN_HALF_LIFE / CEIL
  return WID * 0.5 ^ ((now - WAT) / half_life)
end

-- A turn begins: probe up from the plateau (_Law._resume).
local function resume(now)
  if W ~= nil and now - SINCE > climb(W) then SINCE = now - climb(W) end
end

-- A turn ends: the rate it reached is the next turn's plateau (_Law._keep).
local function keep(now)
  if W ~= nil and now - SINCE > climb(W) then
    W = math.min(CEIL, rate(now))
    SINCE = now - climb(W)
  end
end

local function on_success(now, sent)
  OK = now
  if sent ~= nil then OKL = now - sent else OKL = nil end
  RECENT = string.sub(RECENT .. '0', -CUT_WINDOW)
  STEPPED = false
  if HELD == NEG then
    HELD = now
    if contended(now) then resume(now) end
  elseif now - HELD >= TURN / CEIL and contended(now) then
    HELD = NEG
    STEPPED = true
    keep(now)
    return STEP_ASIDE / rate(now)
  end
  return 0.0
end

local function explained(now, sent)
  if OKL == nil or now - OK >= 1.0 / CEIL then return false end
  return math.abs((now - sent) - OKL) >= LATE / CEIL
end

local function repeated()
  local turns = 0
  for i = 1, #RECENT - 1 do
    if string.sub(RECENT, i, i + 1) == '01' then turns = turns + 1 end
  end
  return turns >= 2
end

local function lost_probe(now, hit)
  if W == nil or hit >= CEIL then return false end
  return now - SINCE > climb(W)
end

local function on_quota_exceeded(now, u)
  local hit = rate(now)
  local after_success = string.sub(RECENT, -1) == '0'
  local was = contended(now)
  if was or not after_success then CU = now + RECOVERY * CONTENDED_FOR end
  RECENT = string.sub(RECENT .. '1', -CUT_WINDOW)
  local cut = false
  if after_success and (repeated() or lost_probe(now, hit)) then
    W = hit * (1.0 - MARGIN)
    SINCE = now
    WID = 0.0
    cut = true
  elseif hit >= CEIL and not was then
    WID = math.min(MAX_LEARNED_MARGIN, widening(now) + MARGIN_STEP)
    WAT = now
  end
  local turn = TURN / CEIL
  if not was or (after_success and not STEPPED) then
    return hit, cut, (1.0 + u * PAUSE_JITTER) / hit
  end
  if now - OK > STARVING * turn then return hit, cut, (1.0 + SWEEP + u * SWEEP_SPREAD) / hit end
  HELD = NEG
  if after_success then return hit, cut, turn + u * STEP_ASIDE / CEIL end
  return hit, cut, turn * (1.0 + u * TURN_JITTER)
end

-- The buckets and the gate (_throttle.LocalQuota) -------------------------------------

local function rates(t)
  local spacing = rate(t) / (1.0 + widening(t))
  return spacing, spacing * (1.0 - MARGIN)
end

local function refill(to)
  local s2, p2 = rates(to)
  local s1, p1 = rates(STAMP)
  local elapsed = to - STAMP
  S = math.min(BURST, S + elapsed * (s2 + s1) / 2)
  P = math.min(BURST + CARRY, P + elapsed * (p2 + p1) / 2)
  STAMP = to
end

local published = false
local function close_gate(until_, restart)
  PU = until_
  if restart then
    S, P, STAMP = 1.0, 1.0, until_
  elseif #kept > 0 then
    local s, p, stamp = string.match(kept[1], '^[^,]+,([^,]+),([^,]+),([^,]+)$$')
    S, P, STAMP = tonumber(s), tonumber(p), tonumber(stamp)
  end
  kept = {}
  GEN = GEN + 1
  published = true
end

local started, hit, cut, turned = nil, nil, false, false
for i = 14, #ARGV do
  local outcome = ARGV[i]
  if string.sub(outcome, 1, 1) == 's' then
    local aside = on_success(NOW, tonumber(string.sub(outcome, 2)))
    if aside > 0 then
      turned = true
      local until_ = NOW + aside
      if until_ > PU then close_gate(until_, false) end
    end
  else
    local granted, u = string.match(outcome, '^e([^:]+):(.+)$$')
    granted, u = tonumber(granted), tonumber(u)
    ERRORS = ERRORS + 1
    if granted >= LP and not explained(NOW, granted) then
      if STAMP == nil then STAMP = NOW elseif NOW > STAMP then refill(NOW) end
      local pause
      hit, cut, pause = on_quota_exceeded(NOW, u)
      LP = NOW
      local until_ = NOW + pause
      if until_ > PU then
        close_gate(until_, true)
        started = until_ - NOW
      end
    end
  end
end

local reserved, wait, closed = false, 0.0, PU > NOW
if RESERVE then
  local t = math.max(NOW, PU)
  if STAMP == nil then STAMP = t end
  local before = fmt(S) .. ',' .. fmt(P) .. ',' .. fmt(STAMP)
  if t > STAMP then refill(t) end
  local at = STAMP
  if not (S >= 1.0 - EPS and P >= 1.0 - EPS) then
    local rs, rp = rates(STAMP)
    at = STAMP + math.max((1.0 - S) / rs, (1.0 - P) / rp, EPS)
  end
  wait = at - NOW
  if MAX_WAIT == nil or wait <= MAX_WAIT then
    if at > STAMP then refill(at) end
    -- A request leaves when its process wakes, up to JIT after the moment: the next
    -- reservation keeps that much further away (the local throttle takes its token
    -- when it wakes, so there the spacing holds from the actual time).
    local spacing_rate = rates(at)
    S = math.max(0.0, S - 1.0) - JIT * spacing_rate
    P = math.max(0.0, P - 1.0)
    kept[#kept + 1] = fmt(at) .. ',' .. before
    CALLS = CALLS + 1
    reserved = true
  end
end

local set = {'held', HELD == NEG and '' or fmt(HELD), 'okl', OKL and fmt(OKL) or '',
  'stepped', STEPPED and '1' or '0', 'recent', RECENT, 'wid', fmt(WID), 's', fmt(S), 'p', fmt(P),
  'pu', fmt(PU), 'gen', GEN, 'q', table.concat(kept, ';'), 'calls', CALLS, 'errors', ERRORS,
  'jit', fmt(JIT), 'jat', fmt(NOW), 'born', BORN, 'ceil', fmt(CEIL)}
local function put(name, value)
  if value ~= nil and value ~= NEG then
    set[#set + 1] = name
    set[#set + 1] = fmt(value)
  end
end
put('w', W)
put('since', SINCE)
put('cu', CU)
put('wat', WAT)
put('ok', OK)
put('stamp', STAMP)
put('lp', LP)
redis.call('HSET', state_key, unpack(set))
redis.call('PEXPIRE', state_key, TTL_MS)
redis.call('ZADD', members_key, fmt(NOW), MEMBER)
redis.call('ZREMRANGEBYSCORE', members_key, '-inf', '(' .. fmt(NOW - MEMBER_TTL))
redis.call('PEXPIRE', members_key, TTL_MS)
local processes = redis.call('ZCARD', members_key)
-- This process's place among them by name: its turn while the processes cannot reach
-- Redis (_reply._Slots).
local rank = 0
for _, name in ipairs(redis.call('ZRANGE', members_key, 0, -1)) do
  if name < MEMBER then rank = rank + 1 end
end
if published then redis.call('PUBLISH', CHANNEL, BORN .. ' ' .. GEN) end

local tokens = math.max(0.0, math.min(S, P))
if STAMP ~= nil and NOW > STAMP then
  local rs, rp = rates(NOW)
  tokens = math.min(math.min(BURST, S + (NOW - STAMP) * rs),
    math.min(BURST + CARRY, P + (NOW - STAMP) * rp))
end
local r = rate(NOW)
return {
  reserved and '1' or '0',
  fmt(wait),
  fmt(NOW),
  tostring(GEN),
  fmt(r),
  W and fmt(W) or '',
  W and fmt(NOW - SINCE) or '',
  contended(NOW) and '1' or '0',
  fmt(widening(NOW)),
  fmt(math.max(0.0, PU - NOW)),
  tostring(CALLS),
  tostring(ERRORS),
  tostring(processes),
  started and fmt(started) or '',
  hit and fmt(hit) or '',
  cut and '1' or '0',
  turned and '1' or '0',
  closed and '1' or '0',
  fmt(tokens),
  fmt(JIT),
  BORN,
  tostring(rank),
}
"""


def _lua_number(value: float) -> str:
    return repr(float(value))


QUOTA_SCRIPT: Final = string.Template(_TEMPLATE).substitute(
    pause_jitter=_lua_number(PAUSE_JITTER),
    cut_window=str(CUT_WINDOW),
    turn=_lua_number(TURN),
    step_aside=_lua_number(STEP_ASIDE),
    contended_for=_lua_number(CONTENDED_FOR),
    starving=_lua_number(STARVING),
    turn_jitter=_lua_number(TURN_JITTER),
    sweep=_lua_number(SWEEP),
    sweep_spread=_lua_number(SWEEP_SPREAD),
    late=_lua_number(LATE),
    carry=_lua_number(CARRY),
    margin_step=_lua_number(MARGIN_STEP),
    margin_half_life=_lua_number(MARGIN_HALF_LIFE),
    max_learned_margin=_lua_number(MAX_LEARNED_MARGIN),
    epsilon=_lua_number(_EPSILON),
    member_ttl=_lua_number(MEMBER_TTL),
    max_queue=str(MAX_QUEUE),
    jitter_half_life=_lua_number(JITTER_HALF_LIFE),
    max_spread=_lua_number(MAX_SPREAD),
)
"""The script's source, with the throttle's constants written in."""
