/**
 * Redis baselines on the same throwaway server as the stowage case (AOF with `appendfsync always`: a write is fsynced
 * before its reply, like a stowage commit), through ioredis on keys of their own (`raw:…`, outside the store's
 * prefix). Besides plain SET/GET: a check-and-set script, and the "own structures" design of the redis section of the
 * README — each primitive one Lua script over Redis's own structures instead of the ordered family's index and hash.
 */
import type { Redis as RedisClient } from "ioredis";
import type { BaselineCase } from "./baseline.js";
import { kvGetKeys, pad, VALUE, valueFor, getKeyOf } from "./fixtures.js";

const KV_KEYS = 10_000;

export const RAW_IOREDIS = "raw ioredis";
/** A check-and-set: one EVALSHA comparing the key's value with the one this client last wrote, then SET. */
export const RAW_IOREDIS_CAS = "raw ioredis EVALSHA check-and-set";
/** The alternative design: one script per primitive over Redis's own structures (see `OWN_KV_PUT`, `OWN_LOG_APPEND`). */
export const REDIS_OWN = "Redis own structures, one script per primitive";

/** KEYS: the key. ARGV: '1' and the expected value, or '0' (absent); the new value. 1 when set, 0 when the check failed. */
const CAS = `
local now = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if now ~= ARGV[2] then return 0 end
  redis.call('SET', KEYS[1], ARGV[3])
else
  if now then return 0 end
  redis.call('SET', KEYS[1], ARGV[2])
end
return 1`;

/**
 * What a KV put must do in a design of its own on Redis's structures, with stowage's features: the namespace's hash
 * holds the value; an entry that had a deadline leaves the expiry index (a sorted set); a namespace with history gets
 * a change record (a stream) — here none has; the change is published for live feeds.
 * KEYS: values hash, expiry index, history flag, history stream; ARGV: key, value, channel.
 */
const OWN_KV_PUT = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('XADD', KEYS[4], '*', 'k', ARGV[1], 'v', ARGV[2]) end
redis.call('PUBLISH', ARGV[3], ARGV[1])
return 1`;

/**
 * A log append of its own: a gap-free sequence (INCR) and the entry in the key's hash by sequence, published.
 * KEYS: the key's counter, the key's entries; ARGV: the value, the channel. Returns the sequence.
 */
const OWN_LOG_APPEND = `
local seq = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[2], seq, ARGV[1])
redis.call('PUBLISH', ARGV[2], seq)
return seq`;

interface Scripted extends RedisClient {
  rawCas(key: string, ...args: Array<string | Buffer>): Promise<number>;
  ownKvPut(values: string, expiry: string, history: string, changes: string, key: string, value: Buffer, channel: string): Promise<number>;
  ownLogAppend(counter: string, entries: string, value: Buffer, channel: string): Promise<number>;
}

async function connect(url: string): Promise<Scripted> {
  const { Redis } = await import("ioredis");
  const client = new Redis(url, { lazyConnect: true }) as Scripted;
  client.defineCommand("rawCas", { numberOfKeys: 1, lua: CAS });
  client.defineCommand("ownKvPut", { numberOfKeys: 4, lua: OWN_KV_PUT });
  client.defineCommand("ownLogAppend", { numberOfKeys: 2, lua: OWN_LOG_APPEND });
  await client.connect();
  return client;
}

const quit = (client: RedisClient) => async () => void (await client.quit());

export function rawRedisBaselines(url: string): BaselineCase[] {
  return [
    {
      subject: RAW_IOREDIS,
      op: "kv.put",
      describe: "SET key value, keys cycling over 10,000",
      async build(c) {
        const client = await connect(url);
        return { body: { op: (i) => client.set(`raw:put-c${c}:k${pad(i % KV_KEYS, 6)}`, valueFor(i)) }, close: quit(client) };
      },
    },
    {
      subject: RAW_IOREDIS,
      op: "kv.get",
      describe: `GET (getBuffer) of a present key among ${kvGetKeys("redis")}`,
      async build(c) {
        const client = await connect(url);
        const keys = kvGetKeys("redis");
        const key = (i: number) => `raw:get-c${c}:k${pad(i, 6)}`;
        const value = Buffer.from(VALUE);
        await client.mset(...Array.from({ length: keys }, (_, i) => [key(i), value]).flat());
        if ((await client.getBuffer(key(7)))?.length !== VALUE.length) throw new Error("bench sanity check failed: raw ioredis returns the value set");
        return { body: { op: (i) => client.getBuffer(key((i * 7919) % keys)) }, close: quit(client) };
      },
    },
    {
      subject: RAW_IOREDIS_CAS,
      op: "kv.put",
      describe: "EVALSHA of a script that GETs the key, compares it with the value this client last wrote (or absent) and SETs the new value",
      async build(c) {
        const client = await connect(url);
        const last = new Map<number, Buffer>();
        return {
          body: {
            op: async (i) => {
              const k = i % KV_KEYS;
              const before = last.get(k);
              const value = valueFor(i);
              const key = `raw:cas-c${c}:k${pad(k, 6)}`;
              const done = before === undefined ? await client.rawCas(key, "0", value) : await client.rawCas(key, "1", before, value);
              if (done !== 1) throw new Error("raw ioredis check-and-set lost its check (no other writer)");
              last.set(k, value);
            },
          },
          close: quit(client),
        };
      },
    },
    {
      subject: REDIS_OWN,
      op: "kv.put",
      describe: "EVALSHA of one script per put: HSET in the namespace's hash, ZREM from the expiry index, a change record when the namespace keeps history (XADD), PUBLISH",
      async build(c) {
        const client = await connect(url);
        const ns = `own:kv-c${c}`;
        return {
          body: { op: (i) => client.ownKvPut(`${ns}:values`, `${ns}:expiry`, `${ns}:history`, `${ns}:changes`, `k${pad(i % KV_KEYS, 6)}`, valueFor(i), `${ns}:feed`) },
          close: quit(client),
        };
      },
    },
    {
      subject: REDIS_OWN,
      op: "kv.get",
      describe: `HGET (hgetBuffer) of a present key in the namespace's hash among ${kvGetKeys("redis")}`,
      async build(c) {
        const client = await connect(url);
        const keys = kvGetKeys("redis");
        const hash = `own:get-c${c}:values`;
        const value = Buffer.from(VALUE);
        await client.hset(hash, ...Array.from({ length: keys }, (_, i) => [`k${pad(i, 6)}`, value]).flat());
        if ((await client.hgetBuffer(hash, `k${pad(7, 6)}`))?.length !== VALUE.length) throw new Error("bench sanity check failed: HGET returns the value set");
        const keyOf = getKeyOf(keys);
        return { body: { op: (i) => client.hgetBuffer(hash, keyOf(i)) }, close: quit(client) };
      },
    },
    {
      subject: REDIS_OWN,
      op: "log.append",
      describe: "EVALSHA of one script per append to one of 16 keys: INCR the key's sequence, HSET the entry under it, PUBLISH",
      async build(c) {
        const client = await connect(url);
        const ns = `own:log-c${c}`;
        return { body: { op: (i) => client.ownLogAppend(`${ns}:a${i % 16}:seq`, `${ns}:a${i % 16}:entries`, valueFor(i), `${ns}:feed`) }, close: quit(client) };
      },
    },
  ];
}
