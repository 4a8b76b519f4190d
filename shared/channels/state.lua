-- Channel state shared by every worker: limits, 429 cool-downs and the circuit breaker.
-- Keys (one hash tag per channel): KEYS[1] state hash, KEYS[2] leases zset (lease id → expiry ms),
-- KEYS[3] calls zset (call id → start ms, the rpm window), KEYS[4] recent errors list.
-- Time is Redis's own (TIME), so workers with skewed clocks agree.
-- ARGV[1] operation, then its arguments:
--   acquire <lease id> <lease ms> <concurrency or 0> <rpm or 0>
--       → { 1, 0, 'ok' } or { 0, wait ms, 'open' | 'cooldown' | 'concurrency' | 'rpm' }
--   renew <lease id> <lease ms>              → 1 when the lease was still held
--   release <lease id>                       → 1
--   succeeded                                → 1 (consecutive failures back to 0)
--   failed <error json> <threshold> <base ms> <max ms>
--       → 1 when this failure opened the circuit
--   limited <error json> <cool-down ms>      → cool-down end (ms)
--   claim-probe <probe ms>                   → 1 when this caller should probe now
--   probed <ok 0|1> <error json> <base ms> <max ms> → 1
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local op = ARGV[1]
local state, leases, calls, errors = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local DAY = 86400000

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
  redis.call('HSET', state, 'open', '1', 'open_until', now + wait, 'opened_at', now)
end

if op == 'acquire' then
  local s = redis.call('HMGET', state, 'open', 'open_until', 'cooldown_until')
  if s[1] == '1' then return { 0, math.max(num(s[2]) - now, 0), 'open' } end
  if num(s[3]) > now then return { 0, num(s[3]) - now, 'cooldown' } end
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
  return { 1, 0, 'ok' }
elseif op == 'renew' then
  local held = redis.call('ZADD', leases, 'XX', 'CH', now + tonumber(ARGV[3]), ARGV[2])
  redis.call('PEXPIRE', leases, tonumber(ARGV[3]) * 2)
  return held
elseif op == 'release' then
  redis.call('ZREM', leases, ARGV[2])
  return 1
elseif op == 'succeeded' then
  redis.call('HSET', state, 'failures', 0)
  redis.call('PEXPIRE', state, DAY)
  return 1
elseif op == 'failed' then
  remember(ARGV[2])
  local failures = redis.call('HINCRBY', state, 'failures', 1)
  redis.call('PEXPIRE', state, DAY)
  if failures >= tonumber(ARGV[3]) and redis.call('HGET', state, 'open') ~= '1' then
    open(tonumber(ARGV[4]), tonumber(ARGV[5]))
    return 1
  end
  return 0
elseif op == 'limited' then
  remember(ARGV[2])
  local till = math.max(num(redis.call('HGET', state, 'cooldown_until')), now + tonumber(ARGV[3]))
  redis.call('HSET', state, 'cooldown_until', till)
  redis.call('PEXPIRE', state, DAY)
  return till
elseif op == 'claim-probe' then
  local s = redis.call('HMGET', state, 'open', 'open_until')
  if s[1] ~= '1' or num(s[2]) > now then return 0 end
  -- The claim holds the circuit open while the probe runs, so no other worker probes too.
  redis.call('HSET', state, 'open_until', now + tonumber(ARGV[2]))
  return 1
elseif op == 'probed' then
  if ARGV[2] == '1' then
    redis.call('HSET', state, 'open', '0', 'failures', 0, 'opens', 0, 'open_until', 0, 'closed_at', now)
  else
    remember(ARGV[3])
    open(tonumber(ARGV[4]), tonumber(ARGV[5]))
  end
  redis.call('PEXPIRE', state, DAY)
  return 1
end
return redis.error_reply('unknown channel state operation ' .. tostring(op))
