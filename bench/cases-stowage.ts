/**
 * The stowage primitive cases, the same on every engine: each builds its own namespaces and data, so cases never see
 * each other's rows. `build(c)` returns the body to measure at concurrency c.
 */
import type { Store } from "../src/index.js";
import type { CaseBody } from "./harness.js";
import { kvGetKeys, pad, preload, VALUE, valueFor, getKeyOf } from "./fixtures.js";
import { completeBatch, WORK_ROWS } from "./work-cycle.js";

export interface BenchCase {
  /** Short operation name, shared with the baselines it is compared to. */
  op: string;
  /** What one operation is. */
  describe: string;
  /** Concurrencies to run at, instead of the run's default list. */
  concurrencies?: readonly number[];
  build(store: Store, concurrency: number): Promise<CaseBody>;
}

/** KV put also runs with 64 in flight: group commit's gain is bounded by the writes in flight (see bench/targets.ts). */
export const PUT_CONCURRENCIES: readonly number[] = [1, 16, 64];

/** Keys KV put and get cycle through. */
const KV_KEYS = 10_000;
/** Writes per preload transaction (stowage allows 10,000). */
const CHUNK = 5_000;

/** The namespace of a case at concurrency c (the wrapper rows reach the kv.get case's keys through it). */
export const nsOf = (op: string, c: number): string => `${op.replace(/[^A-Za-z0-9]/g, "-")}-c${c}`;

/** Fails the run loudly when a case would not measure what it claims. */
function expect(condition: boolean, message: string): void {
  if (!condition) throw new Error(`bench sanity check failed: ${message}`);
}

/**
 * One operation of a stowage work cycle on `store.workQueue(ns)`, one queue key shared by every worker: `push` (or
 * `pushMany` of `batch`), `claim({ limit })` and `ack` (or `ackMany`) until `batch` jobs are done. `onWrite` is called
 * once per write call (push, claim, ack), for the writes-per-commit figure of the SQLite rows.
 */
export function workCycleBody(store: Store, ns: string, batch: number, onWrite: () => void = () => undefined): CaseBody {
  const queue = store.workQueue(ns);
  const key = "shared";
  return {
    op: (i) =>
      completeBatch(batch, {
        push: () => {
          onWrite();
          return batch === 1 ? queue.push(key, valueFor(i)) : queue.pushMany(key, Array.from({ length: batch }, (_, j) => ({ value: valueFor(i * batch + j) })));
        },
        claim: (limit) => {
          onWrite();
          return queue.claim(key, { limit });
        },
        ack: async (jobs) => {
          onWrite();
          if (jobs.length === 1) {
            await queue.ack(jobs[0] as (typeof jobs)[number]);
            return 1;
          }
          return (await queue.ackMany(jobs)).acked;
        },
      }),
  };
}

/** The work rows' stowage side (bench/work-cycle.ts). */
const WORK_CASES: BenchCase[] = WORK_ROWS.map(({ op, batch }) => ({
  op,
  describe:
    batch === 1
      ? "one job: push, claim({ limit: 1 }), ack — one queue key shared by every worker (ops/s = jobs/s)"
      : `${batch} jobs: pushMany(${batch}), claim({ limit: ${batch} }) and ackMany until ${batch} are done — one queue key shared by every worker (jobs/s = ${batch} × ops/s)`,
  build: async (store, c) => workCycleBody(store, nsOf(op, c), batch),
}));

export const STOWAGE_CASES: readonly BenchCase[] = [
  {
    op: "kv.put",
    describe: `put of a 100-byte value, keys cycling over ${KV_KEYS} (insert, then update)`,
    concurrencies: PUT_CONCURRENCIES,
    async build(store, c) {
      const kv = store.kv(nsOf("kv.put", c));
      return { op: (i) => kv.put(`k${pad(i % KV_KEYS, 6)}`, valueFor(i)) };
    },
  },
  {
    op: "kv.get",
    describe: `get of a present key among ${KV_KEYS} (${kvGetKeys("redis")} on the networked engines)`,
    async build(store, c) {
      const kv = store.kv(nsOf("kv.get", c));
      const keys = kvGetKeys(store.engine);
      await preload(store, keys, CHUNK, (tx, i) => tx.kv(kv.namespace).put(`k${pad(i, 6)}`, VALUE));
      expect((await kv.get(`k${pad(7, 6)}`))?.length === VALUE.length, "kv.get finds a preloaded key");
      const keyOf = getKeyOf(keys);
      return { op: (i) => kv.get(keyOf(i)) };
    },
  },
  {
    op: "kv.list100",
    describe: "list({prefix, limit: 100}) returning 100 entries (20 prefixes × 100 keys, plus 2,000 other keys)",
    async build(store, c) {
      const kv = store.kv(nsOf("kv.list100", c));
      await preload(store, 4_000, CHUNK, (tx, i) =>
        tx.kv(kv.namespace).put(i < 2_000 ? `p${pad(Math.floor(i / 100), 2)}/${pad(i % 100, 3)}` : `z${pad(i, 6)}`, VALUE),
      );
      const page = await kv.list({ prefix: "p07/", limit: 100 });
      expect(page.entries.length === 100, `list of a prefix returns 100 entries (got ${page.entries.length})`);
      return { op: (i) => kv.list({ prefix: `p${pad(i % 20, 2)}/`, limit: 100 }) };
    },
  },
  {
    op: "kv.putTtl",
    describe: "put with ttlMs: 3,600,000",
    async build(store, c) {
      const kv = store.kv(nsOf("kv.putTtl", c));
      return { op: (i) => kv.put(`k${pad(i % KV_KEYS, 6)}`, valueFor(i), { ttlMs: 3_600_000 }) };
    },
  },
  {
    op: "log.append",
    describe: "append of a 100-byte value to one of 16 keys",
    async build(store, c) {
      const log = store.log(nsOf("log.append", c));
      return { op: (i) => log.append(`a${i % 16}`, valueFor(i)) };
    },
  },
  {
    op: "log.since",
    describe: "since(key, seq) returning 5 entries (64 keys × 10 interleaved entries)",
    async build(store, c) {
      const log = store.log(nsOf("log.since", c));
      const seqs: number[][] = Array.from({ length: 64 }, () => []);
      await preload(store, 640, CHUNK, async (tx, i) => {
        const seq = await tx.log(log.namespace).append(`s${i % 64}`, VALUE);
        (seqs[i % 64] as number[]).push(seq);
      });
      const from = seqs.map((list) => list[4] as number);
      expect((await log.since("s3", from[3] as number)).length === 5, "log.since returns 5 entries");
      return { op: (i) => log.since(`s${i % 64}`, from[i % 64] as number) };
    },
  },
  {
    op: "slot.cas",
    describe: "cas with the known version (a version chain over 256 slots; a lost race re-reads the version)",
    async build(store, c) {
      const slot = store.slot(nsOf("slot.cas", c));
      const versions: number[] = [];
      await preload(store, 256, CHUNK, async (tx, i) => {
        versions[i] = await tx.slot(slot.namespace).upsert(`s${i}`, VALUE);
      });
      return {
        op: async (i) => {
          const k = i % 256;
          const expected = versions[k] as number;
          if (await slot.cas(`s${k}`, expected, valueFor(i))) versions[k] = Math.max(versions[k] as number, expected + 1);
          else versions[k] = (await slot.get(`s${k}`))?.version ?? 0;
        },
      };
    },
  },
  {
    op: "queue.push",
    describe: "push of a 100-byte value (one queue key per in-flight worker)",
    async build(store, c) {
      const queue = store.queue(nsOf("queue.push", c));
      return { op: (i, w) => queue.push(`q${w}`, valueFor(i)) };
    },
  },
  {
    op: "queue.peek",
    describe: "peek(key, 10) of a queue holding 100 items (16 keys)",
    async build(store, c) {
      const queue = store.queue(nsOf("queue.peek", c));
      await preload(store, 1_600, CHUNK, (tx, i) => tx.queue(queue.namespace).push(`q${i % 16}`, VALUE));
      expect((await queue.peek("q5", 10)).length === 10, "queue.peek returns 10 items");
      return { op: (i) => queue.peek(`q${i % 16}`, 10) };
    },
  },
  {
    op: "queue.ack",
    describe: "ack of a queued item by id (items pushed beforehand, untimed)",
    async build(store, c) {
      const queue = store.queue(nsOf("queue.ack", c));
      const stock: Array<{ key: string; id: number }> = [];
      let next = 0;
      let misses = 0;
      return {
        beforeRun: async (ops) => {
          const missing = ops - (stock.length - next);
          if (missing <= 0) return;
          const start = stock.length;
          await preload(store, missing, CHUNK, async (tx, i) => {
            const key = `q${(start + i) % 16}`;
            stock.push({ key, id: await tx.queue(queue.namespace).push(key, VALUE) });
          });
        },
        op: async () => {
          const item = stock[next++];
          if (item === undefined || !(await queue.ack(item.key, item.id))) misses++;
          if (misses > 0) throw new Error(`queue.ack found no item (${misses} misses)`);
        },
      };
    },
  },
  {
    op: "queue.cycle",
    describe: "push + peek(key, 1) + ack of the peeked item (one queue key per in-flight worker)",
    async build(store, c) {
      const queue = store.queue(nsOf("queue.cycle", c));
      return {
        op: async (i, w) => {
          const key = `w${w}`;
          await queue.push(key, valueFor(i));
          const [head] = await queue.peek(key, 1);
          if (head === undefined || !(await queue.ack(key, head.id))) throw new Error("queue.cycle lost its item");
        },
      };
    },
  },
  {
    op: "tx.10ops",
    describe: "transaction of 10 writes: 5 kv.put, 2 log.append, 2 queue.push, 1 slot.upsert",
    async build(store, c) {
      const ns = nsOf("tx.10ops", c);
      return {
        op: (i) =>
          store.transaction(async (tx) => {
            const kv = tx.kv(ns);
            for (let j = 0; j < 5; j++) await kv.put(`k${pad((i * 5 + j) % KV_KEYS, 6)}`, valueFor(i * 5 + j));
            const log = tx.log(ns);
            await log.append(`a${i % 16}`, VALUE);
            await log.append(`b${i % 16}`, VALUE);
            const queue = tx.queue(ns);
            await queue.push(`q${i % 16}`, VALUE);
            await queue.push(`r${i % 16}`, VALUE);
            await tx.slot(ns).upsert(`s${i % 256}`, valueFor(i));
          }),
      };
    },
  },
  ...WORK_CASES,
];
