-- Creates a task and adds its BullMQ job in one step (one round trip, atomic like the MULTI it
-- replaces: a 2xx means the task, its blobs, its index entries, its aliases and its job exist).
-- The job is added by BullMQ's own addStandardJob script, included below as a function
-- (`bullmqAddStandardJob(KEYS, ARGV)`) from the installed bullmq package, with the keys and
-- arguments BullMQ's Job.addJob built for it — relayq never writes BullMQ's keys itself.
-- KEYS[1] task hash, KEYS[2] tenant tasks zset, KEYS[3] tenant active zset, KEYS[4] event log
-- (list), KEYS[5] blobs hash, KEYS[6] alias key (or any key when ARGV[1] = 0),
-- KEYS[7..15] the 9 keys of addStandardJob, KEYS[16] the queue's prioritized zset
-- (KEYS[7..16]: any keys when ARGV[4] = 0)
-- ARGV[1] aliases (0 or 1), ARGV[2] task field+value count, ARGV[3] blob field+value count,
-- ARGV[4] 1 to add a job, ARGV[5] created_at (ms), ARGV[6] task id, ARGV[7] first event entry,
-- then the task's field/value pairs, the blobs' field/value pairs, the alias TTL (s) when there
-- is one, and addStandardJob's 3 arguments when there is a job.
-- Returns { 0, jobs waiting in the queue after the add (wait + prioritized + paused) } with a job,
-- { 0, -1 } without one, { BullMQ's negative error code, 0 } when BullMQ refused the job: then
-- nothing of the task is written.
--@bullmq-addStandardJob
local nTask, nBlob = tonumber(ARGV[2]), tonumber(ARGV[3])
local hasJob = ARGV[4] == '1'
local at = 8 + nTask + nBlob
if ARGV[1] == '1' then at = at + 1 end
if hasJob then
  -- The job first: when BullMQ refuses it, nothing of the task is written.
  local added = bullmqAddStandardJob({ KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11], KEYS[12], KEYS[13], KEYS[14], KEYS[15] }, { ARGV[at], ARGV[at + 1], ARGV[at + 2] })
  if type(added) == 'number' and added < 0 then return { added, 0 } end
end
redis.call('HSET', KEYS[1], unpack(ARGV, 8, 7 + nTask))
if nBlob > 0 then redis.call('HSET', KEYS[5], unpack(ARGV, 8 + nTask, 7 + nTask + nBlob)) end
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[6])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[6])
redis.call('RPUSH', KEYS[4], ARGV[7])
if ARGV[1] == '1' then redis.call('SET', KEYS[6], ARGV[6], 'EX', ARGV[8 + nTask + nBlob]) end
if not hasJob then return { 0, -1 } end
return { 0, redis.call('LLEN', KEYS[7]) + redis.call('ZCARD', KEYS[16]) + redis.call('LLEN', KEYS[8]) }
