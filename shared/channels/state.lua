-- Channel state shared by every worker: limits, 429 cool-downs and the circuit breaker.
-- Keys (one hash tag per channel): KEYS[1] state hash, KEYS[2] leases zset (lease id → expiry ms),
-- KEYS[3] calls zset (call id → start ms, the rpm window), KEYS[4] recent errors list.
-- Time is Redis's own (TIME), so workers with skewed clocks agree.
-- The circuit: closed → (failures in a row) open, no calls, for a cool-down → probing (one
-- worker's probe) → half-open (one trial call) → closed when the trial succeeds; a failed probe
-- or trial opens it again for a doubled cool-down.
-- ARGV[1] operation, then its arguments:
--   acquire <lease id> <lease ms> <concurrency or 0> <rpm or 0>
--       → { 1, 0, 'ok' } or { 0, wait ms, 'open' | 'probing' | 'trial' | 'cooldown' | 'concurrency' | 'rpm' }
--   peek                                     → { 1, 0, 'ok' } or { 0, wait ms, reason } (health only, no limits)
--   renew <lease id> <lease ms>              → 1 when the lease was still held
--   release <lease id>                       → 1
--   succeeded <lease id> [release]           → 1 (consecutive failures back to 0; closes after a good trial;
--       with `release`, also gives the lease's slot back, as `release` does)
--   failed <error json> <threshold> <base ms> <max ms> <lease id>
--       → 1 when this failure opened the circuit
--   limited <error json> <cool-down ms>      → cool-down end (ms)
--   read <ok 0|1> <error json> <threshold> <base ms> <max ms>
--       → 1 when this failed progress read opened the circuit (reads keep their own count of
--       failures in a row, `read_failures`, so a call's success does not hide failing reads nor a
--       read's success failing calls; see the operation)
--   claim-probe <probe ms>                   → 1 when this caller should probe now
--   probed <ok 0|1> <error json> <base ms> <max ms> → 1
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local op = ARGV[1]
local state, leases, calls, errors = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local DAY = 86400000
-- A caller waiting on a probe or a trial looks again at least this often (ms).
local RECHECK = 500
-- A probe due this long without a prober claiming it (no worker probes this type) leaves the
-- channel counted as failing rather than about to be probed (ms).
local UNCLAIMED = 15000

local function num(v)
  return tonumber(v or '0') or 0
end

local function remember(err)
  redis.call('LPUSH', errors, err)
  redis.call('LTRIM', errors, 0, 19)
  redis.call('PEXPIRE', errors, DAY)
end

-- Opens (or keeps open) the circuit for a cool-down that doubles with each opening.
local function open(base, max)
  local opens = redis.call('HINCRBY', state, 'opens', 1)
  local wait = math.min(base * 2 ^ (opens - 1), max)
  redis.call('HSET', state, 'open', '1', 'open_until', now + wait, 'opened_at', now, 'half', '0', 'trial', '', 'trial_until', 0, 'probe_until', 0)
end

-- Closes a half-open circuit: back in rotation, both failure counts (calls, reads) start again.
local function close()
  redis.call('HSET', state, 'half', '0', 'trial', '', 'trial_until', 0, 'opens', 0, 'closed_at', now, 'failures', 0, 'read_failures', 0)
end

-- One more failure (`count` in a row of its kind): a half-open circuit reopens at once, a closed
-- one opens at `threshold`, an open one stays as it is. 1 when it opened the circuit.
local function tripped(half, count, threshold, base, max)
  if half == '1' or count >= threshold then
    open(base, max)
    return 1
  end
  return 0
end

-- Why the channel's health keeps calls out now: nil, or wait ms and a reason.
local function health()
  local s = redis.call('HMGET', state, 'open', 'open_until', 'cooldown_until', 'half', 'trial_until', 'probe_until')
  if s[1] == '1' then
    local till, probe = num(s[2]), num(s[6])
    if till > now then return math.max(till - now, 1), 'open' end
    if probe > now then return math.min(probe - now, RECHECK), 'probing' end
    if now - till < UNCLAIMED then return RECHECK, 'probing' end
    return RECHECK, 'open'
  end
  if num(s[3]) > now then return num(s[3]) - now, 'cooldown' end
  if s[4] == '1' and num(s[5]) > now then return math.min(num(s[5]) - now, RECHECK), 'trial' end
  return nil
end

if op == 'acquire' then
  local wait, why = health()
  if wait then return { 0, wait, why } end
  local conc, rpm = tonumber(ARGV[4]), tonumber(ARGV[5])
  redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
  if conc > 0 and redis.call('ZCARD', leases) >= conc then
    local first = redis.call('ZRANGE', leases, 0, 0, 'WITHSCORES')
    return { 0, math.min(math.max(num(first[2]) - now, 0), 250), 'concurrency' }
  end
  redis.call('ZREMRANGEBYSCORE', calls, '-inf', now - 60000)
  if rpm > 0 and redis.call('ZCARD', calls) >= rpm then
    local oldest = redis.call('ZRANGE', calls, 0, 0, 'WITHSCORES')
    return { 0, math.max(num(oldest[2]) + 60000 - now, 1), 'rpm' }
  end
  redis.call('ZADD', calls, now, ARGV[2])
  redis.call('PEXPIRE', calls, 61000)
  redis.call('ZADD', leases, now + tonumber(ARGV[3]), ARGV[2])
  redis.call('PEXPIRE', leases, tonumber(ARGV[3]) * 2)
  -- Half-open: this call is the one trial.
  if redis.call('HGET', state, 'half') == '1' then redis.call('HSET', state, 'trial', ARGV[2], 'trial_until', now + tonumber(ARGV[3])) end
  return { 1, 0, 'ok' }
elseif op == 'peek' then
  local wait, why = health()
  if wait then return { 0, wait, why } end
  return { 1, 0, 'ok' }
elseif op == 'renew' then
  local held = redis.call('ZADD', leases, 'XX', 'CH', now + tonumber(ARGV[3]), ARGV[2])
  redis.call('PEXPIRE', leases, tonumber(ARGV[3]) * 2)
  if redis.call('HGET', state, 'trial') == ARGV[2] then redis.call('HSET', state, 'trial_until', now + tonumber(ARGV[3])) end
  return held
elseif op == 'release' then
  redis.call('ZREM', leases, ARGV[2])
  -- A trial that ended neither way (a refusal of the request, a cancel): the next call is the trial.
  if redis.call('HGET', state, 'trial') == ARGV[2] then redis.call('HSET', state, 'trial', '', 'trial_until', 0) end
  return 1
elseif op == 'succeeded' then
  local s = redis.call('HMGET', state, 'half', 'trial')
  if s[1] == '1' and s[2] == ARGV[2] then
    close()
  elseif ARGV[3] == 'release' and s[2] == ARGV[2] then
    redis.call('HSET', state, 'trial', '', 'trial_until', 0)
  end
  if ARGV[3] == 'release' then redis.call('ZREM', leases, ARGV[2]) end
  redis.call('HSET', state, 'failures', 0)
  redis.call('PEXPIRE', state, DAY)
  return 1
elseif op == 'failed' then
  remember(ARGV[2])
  local failures = redis.call('HINCRBY', state, 'failures', 1)
  redis.call('PEXPIRE', state, DAY)
  local s = redis.call('HMGET', state, 'open', 'half')
  if s[1] == '1' then return 0 end
  return tripped(s[2], failures, tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]))
elseif op == 'read' then
  -- The tracker's progress reads of the channel in one tick. They go on whatever the circuit
  -- says (tasks already upstream must be followed), so they never end an open circuit (only a
  -- probe does); once it is half-open, a read that answered closes it when no trial call is
  -- under way (a real request answered, as good a sign as the trial), and a failed one reopens it.
  local s = redis.call('HMGET', state, 'open', 'half', 'trial')
  redis.call('PEXPIRE', state, DAY)
  if ARGV[2] == '1' then
    redis.call('HSET', state, 'read_failures', 0)
    if s[1] ~= '1' and s[2] == '1' and (not s[3] or s[3] == '') then
      close()
    end
    return 0
  end
  remember(ARGV[3])
  local failures = redis.call('HINCRBY', state, 'read_failures', 1)
  if s[1] == '1' then return 0 end
  return tripped(s[2], failures, tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]))
elseif op == 'limited' then
  remember(ARGV[2])
  local till = math.max(num(redis.call('HGET', state, 'cooldown_until')), now + tonumber(ARGV[3]))
  redis.call('HSET', state, 'cooldown_until', till)
  redis.call('PEXPIRE', state, DAY)
  return till
elseif op == 'claim-probe' then
  local s = redis.call('HMGET', state, 'open', 'open_until', 'probe_until')
  if s[1] ~= '1' or num(s[2]) > now or num(s[3]) > now then return 0 end
  -- The claim holds other probers off while this probe runs.
  redis.call('HSET', state, 'probe_until', now + tonumber(ARGV[2]))
  return 1
elseif op == 'probed' then
  if ARGV[2] == '1' then
    -- Half-open: one trial call decides (opens is kept, so a failed trial doubles the cool-down).
    redis.call('HSET', state, 'open', '0', 'half', '1', 'trial', '', 'trial_until', 0, 'failures', 0, 'read_failures', 0, 'open_until', 0, 'probe_until', 0)
  else
    remember(ARGV[3])
    open(tonumber(ARGV[4]), tonumber(ARGV[5]))
  end
  redis.call('PEXPIRE', state, DAY)
  return 1
end
return redis.error_reply('unknown channel state operation ' .. tostring(op))
