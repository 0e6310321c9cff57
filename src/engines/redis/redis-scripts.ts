/**
 * The Lua scripts of the Redis store. Every script takes the same three keys: the index (a sorted set whose members
 * are the store's keys, all at score 0, so that ZRANGEBYLEX orders them by memcmp, shorter first on a common prefix:
 * the family's key order), the values (a hash from key to value) and the commit counter (a string INCRed by every
 * commit that writes). Redis runs a script alone, so each one reads or writes one point in time.
 */
import { createHash } from "node:crypto";

/** `range(start, stop, limit, reverse)`: entries with start ≤ key < stop, as a flat list key, value, key, value… */
const RANGE = `
local function range(start, stop, limit, reverse)
  local keys
  if reverse == '1' then
    keys = redis.call('ZREVRANGEBYLEX', KEYS[1], '(' .. stop, '[' .. start, 'LIMIT', 0, limit)
  else
    keys = redis.call('ZRANGEBYLEX', KEYS[1], '[' .. start, '(' .. stop, 'LIMIT', 0, limit)
  end
  local out = {}
  for i, key in ipairs(keys) do
    out[2 * i - 1] = key
    out[2 * i] = redis.call('HGET', KEYS[2], key)
  end
  return out
end
`;

/** ARGV: key. Returns the counter and the value (nil when absent). */
export const GET_SCRIPT = `return {redis.call('GET', KEYS[3]) or '0', redis.call('HGET', KEYS[2], ARGV[1])}`;

/** ARGV: start, stop, limit (-1: all), reverse ('1'). Returns the counter, then the entries flat. */
export const RANGE_SCRIPT = `${RANGE}
local out = range(ARGV[1], ARGV[2], ARGV[3], ARGV[4])
table.insert(out, 1, redis.call('GET', KEYS[3]) or '0')
return out`;

/**
 * ARGV: the channel, the number of checks, the checks, the number of writes, the writes. A check is
 * `g key 1 value` (the key holds value), `g key 0` (the key is absent) or `r start stop limit reverse n k1 v1 … kn vn`
 * (the range holds exactly these entries). A write is `p key value` or `d key`. Returns 0, writing nothing, when a
 * check fails; else applies the writes, and (when there are any) INCRs the counter and PUBLISHes its new value on
 * the channel, and returns 1. The index and the hash hold the same keys, so only a key new to the hash (HSET answers 1)
 * joins the index, and only one the hash held (HDEL answers 1) leaves it: an update or a delete of an absent key
 * leaves the sorted set alone (a ZADD per put cost ~2–6 µs of the server's time, and a record in the AOF).
 */
export const COMMIT_SCRIPT = `${RANGE}
local a = 3
for _ = 1, tonumber(ARGV[2]) do
  if ARGV[a] == 'g' then
    local now = redis.call('HGET', KEYS[2], ARGV[a + 1])
    if ARGV[a + 2] == '1' then
      if now ~= ARGV[a + 3] then return 0 end
      a = a + 4
    else
      if now then return 0 end
      a = a + 3
    end
  else
    local found = range(ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4])
    local n = tonumber(ARGV[a + 5])
    if #found ~= 2 * n then return 0 end
    a = a + 6
    for i = 1, 2 * n do
      if found[i] ~= ARGV[a] then return 0 end
      a = a + 1
    end
  end
end
local writes = tonumber(ARGV[a])
a = a + 1
for _ = 1, writes do
  if ARGV[a] == 'p' then
    if redis.call('HSET', KEYS[2], ARGV[a + 1], ARGV[a + 2]) == 1 then redis.call('ZADD', KEYS[1], 0, ARGV[a + 1]) end
    a = a + 3
  else
    if redis.call('HDEL', KEYS[2], ARGV[a + 1]) == 1 then redis.call('ZREM', KEYS[1], ARGV[a + 1]) end
    a = a + 2
  end
end
if writes > 0 then
  redis.call('PUBLISH', ARGV[1], redis.call('INCR', KEYS[3]))
end
return 1`;

/** The SHA1 of {@link COMMIT_SCRIPT}, by which EVALSHA names it. */
export const COMMIT_SHA = createHash("sha1").update(COMMIT_SCRIPT).digest("hex");

/** Returns the index's and the hash's sizes, which are equal in a sound store. */
export const COUNT_SCRIPT = `return {redis.call('ZCARD', KEYS[1]), redis.call('HLEN', KEYS[2])}`;
