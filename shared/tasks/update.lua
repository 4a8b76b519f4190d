-- Moves a task forward atomically. A finished task never changes again; status never moves back.
-- Every applied change is appended to the task's event log and announced on its channel, so
-- readers (SSE, waiting calls) see every change in order. The log is a Redis list (a compact
-- listpack for the handful of entries a task has; a stream would cost ~4.7 KB per task) whose
-- entries are JSON arrays [id, s, c, k, g(, t)]: id = '<ms>-<seq>' (Redis time, strictly
-- increasing within the task), s = status after the change, c = 1 when the change moved the
-- status, k = fields touched (comma list), g = progress if set ('' if not).
-- A task with a webhook is marked due for delivery in the same step, so no change escapes it,
-- and a change it may be told about (running or final) also keeps t = the whole task as of this
-- change (HGETALL's flat array), so the webhook body shows the task as it was then.
-- KEYS[1] task hash, KEYS[2] blobs hash, KEYS[3] tenant active zset, KEYS[4] event log (list),
-- KEYS[5] webhook-due zset, KEYS[6] folded history (list)
-- ARGV[1] new status ('' = keep), ARGV[2] allowed current statuses (comma list, '' = any unfinished)
-- ARGV[3] retention seconds, ARGV[4] task id, ARGV[5] notify channel, ARGV[6] seconds the whole log
-- stays once the task finished, ARGV[7] n = how many blob field/value pairs follow (outputs kept in
-- KEYS[2] in the same step, only when the change applies), ARGV[8..7+2n] those pairs, then task
-- field, JSON value pairs
-- When the task finishes, its log is folded into KEYS[6]: every status change and the final entry,
-- without the changes that only moved progress (superseded by the end). The folded history stays as
-- long as the task; the whole log only ARGV[6] seconds more, for clients resuming an event stream.
-- Returns { applied (0|1), status after the call } or false when the task does not exist; a change
-- that finished the task also returns its kind and created_at (JSON values), for the metrics.
local cur = redis.call('HGET', KEYS[1], 'status')
if not cur then return false end
cur = string.sub(cur, 2, -2)
local rank = { queued = 0, requires_action = 0, running = 1, succeeded = 2, failed = 2, canceled = 2 }
if rank[cur] == 2 then return { 0, cur } end
if ARGV[2] ~= '' then
  local ok = false
  for s in string.gmatch(ARGV[2], '[^,]+') do
    if s == cur then ok = true end
  end
  if not ok then return { 0, cur } end
end
local new = ARGV[1]
if new ~= '' and rank[new] < rank[cur] then return { 0, cur } end
local fields = {}
local names = {}
local progress = ''
local blobEnd = 7 + 2 * tonumber(ARGV[7])
for i = blobEnd + 1, #ARGV, 2 do
  fields[#fields + 1] = ARGV[i]
  fields[#fields + 1] = ARGV[i + 1]
  names[#names + 1] = ARGV[i]
  if ARGV[i] == 'progress' then progress = ARGV[i + 1] end
end
if new ~= '' then
  fields[#fields + 1] = 'status'
  fields[#fields + 1] = '"' .. new .. '"'
end
if #fields > 0 then redis.call('HSET', KEYS[1], unpack(fields)) end
if blobEnd > 7 then redis.call('HSET', KEYS[2], unpack(ARGV, 8, blobEnd)) end
local after = cur
if new ~= '' then after = new end
local changed = '0'
if after ~= cur then changed = '1' end
local t = redis.call('TIME')
local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local seq = 0
local last = redis.call('LINDEX', KEYS[4], -1)
if last then
  local lms, lseq = string.match(last, '^%["(%d+)%-(%d+)"')
  if lms and ms <= tonumber(lms) then
    ms = tonumber(lms)
    seq = tonumber(lseq) + 1
  end
end
local entry = '["' .. string.format('%d-%d', ms, seq) .. '","' .. after .. '",' .. changed .. ',' .. cjson.encode(table.concat(names, ',')) .. ',' .. cjson.encode(progress)
local hook = redis.call('HGET', KEYS[1], 'webhook')
local hooked = hook and hook ~= 'null'
if hooked and rank[after] >= 1 then
  entry = entry .. ',' .. cjson.encode(redis.call('HGETALL', KEYS[1]))
end
redis.call('RPUSH', KEYS[4], entry .. ']')
redis.call('LTRIM', KEYS[4], -1000, -1)
if hooked then
  redis.call('ZADD', KEYS[5], 'NX', ms, ARGV[4])
end
if rank[after] == 2 then
  local ttl = tonumber(ARGV[3])
  local all = redis.call('LRANGE', KEYS[4], 0, -1)
  local keep = {}
  for i, e in ipairs(all) do
    if i == #all or string.match(e, '^%["[^"]*","[^"]*",(%d)') ~= '0' then keep[#keep + 1] = e end
  end
  redis.call('DEL', KEYS[6])
  redis.call('RPUSH', KEYS[6], unpack(keep))
  redis.call('EXPIRE', KEYS[6], ttl)
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('EXPIRE', KEYS[2], ttl)
  redis.call('EXPIRE', KEYS[4], math.min(ttl, tonumber(ARGV[6])))
  redis.call('ZREM', KEYS[3], ARGV[4])
end
redis.call('PUBLISH', ARGV[5], after)
if rank[after] == 2 then
  local kc = redis.call('HMGET', KEYS[1], 'kind', 'created_at')
  return { 1, after, kc[1], kc[2] }
end
return { 1, after }
