/**
 * Issue 21 stage F's measurement (not part of `npm run bench`): on one fresh PostgreSQL server,
 *
 * 1. claims at c=16 over one key of a prefilled table, two ways, in alternating rounds: a SERIALIZABLE transaction that
 *    selects the head and updates it (what the shared SQL programs did; a 40001 reruns it), and one READ COMMITTED
 *    statement with `FOR UPDATE SKIP LOCKED`. Reports claims/s and the 40001s per claim;
 * 2. the cycle push + claim + ack at c=16, limit 1 and 16, through a stowage store, against the raw floor of the same
 *    work (an INSERT, a SKIP LOCKED claim statement and a DELETE, autocommit on a pool of the same size), alternating.
 *
 * `node dist/bench/work-pg-isolation.js [seconds per round, default 4] [rounds, default 2] [cycle: the cycle only]`.
 */
import pg from "pg";
import { openStore, utf8, type Store } from "../src/index.js";
import { startPostgres } from "../test/helpers/postgres-server.js";

const CONCURRENCY = 16;
const POOL_SIZE = 16;
const PREFILL = 20_000;
const seconds = Number(process.argv[2] ?? 4);
const rounds = Number(process.argv[3] ?? 2);

/** Runs `op` in CONCURRENCY loops for `ms`; the items it reports done per second. */
async function timed(ms: number, op: (worker: number) => Promise<number>): Promise<number> {
  const end = performance.now() + ms;
  let done = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      while (performance.now() < end) {
        const n = await op(w); // not `done += await …`, which would add to the total as it was before the await
        done += n;
      }
    }),
  );
  return done / ((performance.now() - start) / 1000);
}

const TABLE = `CREATE TABLE q (k TEXT NOT NULL, id BIGSERIAL, priority INT NOT NULL DEFAULT 0, visible_at BIGINT NOT NULL,
  attempts INT NOT NULL DEFAULT 0, token BIGINT, v BYTEA NOT NULL, PRIMARY KEY (k, id));
CREATE INDEX q_claim ON q (k, priority DESC, visible_at, id)`;

async function fill(pool: pg.Pool): Promise<void> {
  await pool.query("DROP TABLE IF EXISTS q");
  await pool.query(TABLE);
  await pool.query("INSERT INTO q (k, visible_at, v) SELECT 'k', 0, '\\x00'::bytea FROM generate_series(1, $1)", [PREFILL]);
  await pool.query("VACUUM ANALYZE q");
}

const HEAD = "SELECT id FROM q WHERE k = 'k' AND visible_at <= $1 ORDER BY priority DESC, visible_at, id LIMIT $2";
const LEASE = "UPDATE q SET token = $1, visible_at = $2, attempts = attempts + 1 WHERE k = 'k' AND visible_at <= $3 AND id = ANY($4::bigint[])";
const CLAIM_SKIP_LOCKED = `WITH c AS (SELECT id FROM q WHERE k = $1 AND visible_at <= $2 ORDER BY priority DESC, visible_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
UPDATE q SET token = $4, visible_at = $5, attempts = q.attempts + 1 FROM c WHERE q.k = $1 AND q.id = c.id RETURNING q.id, q.v`;

async function claimsSerializable(pool: pg.Pool, ms: number, limit: number): Promise<{ rate: number; failures: number; claims: number }> {
  let failures = 0;
  let claims = 0;
  const rate = await timed(ms, async () => {
    const client = await pool.connect();
    try {
      for (;;) {
        const now = Date.now();
        try {
          await client.query("BEGIN ISOLATION LEVEL SERIALIZABLE");
          const head = await client.query({ name: "head", text: HEAD, values: [now, limit] });
          const ids = head.rows.map((row: { id: string }) => row.id);
          const leased = await client.query({ name: "lease", text: LEASE, values: [1, now + 600_000, now, ids] });
          await client.query("COMMIT");
          claims++;
          return leased.rowCount ?? 0;
        } catch (error) {
          await client.query("ROLLBACK").catch(() => undefined);
          if ((error as { code?: string }).code !== "40001") throw error;
          failures++;
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
        }
      }
    } finally {
      client.release();
    }
  });
  return { rate, failures, claims };
}

async function claimsReadCommitted(pool: pg.Pool, ms: number, limit: number): Promise<{ rate: number; failures: number; claims: number }> {
  let claims = 0;
  const rate = await timed(ms, async () => {
    const now = Date.now();
    const leased = await pool.query({ name: "claim", text: CLAIM_SKIP_LOCKED, values: ["k", now, limit, 1, now + 600_000] });
    claims++;
    return leased.rowCount ?? 0;
  });
  return { rate, failures: 0, claims };
}

/** The raw floor of a cycle: INSERT n, one SKIP LOCKED claim of n, DELETE what it took; one key for every worker. */
async function rawCycle(pool: pg.Pool, ms: number, limit: number): Promise<number> {
  const values = Array.from({ length: limit }, () => Buffer.from("job"));
  return timed(ms, async () => {
    const now = Date.now();
    await pool.query({ name: "push", text: "INSERT INTO q (k, visible_at, v) SELECT 'c', $1, v FROM unnest($2::bytea[]) v", values: [now, values] });
    const claimed = await pool.query({ name: "claim", text: CLAIM_SKIP_LOCKED, values: ["c", now, limit, 1, now + 600_000] });
    const ids = claimed.rows.map((row: { id: string }) => row.id);
    await pool.query({ name: "ack", text: "DELETE FROM q WHERE k = 'c' AND id = ANY($1::bigint[]) AND token = $2", values: [ids, 1] });
    return ids.length;
  });
}

/** Where the store's cycle spends its time: ms per call of each step, summed over the last run. */
const stepMs = { push: 0, claim: 0, ack: 0, calls: 0 };

async function storeCycle(store: Store, ms: number, limit: number): Promise<number> {
  const jobs = store.workQueue("jobs", { codec: utf8, visibilityMs: 600_000 });
  const batch = Array.from({ length: limit }, () => ({ value: "job" }));
  Object.assign(stepMs, { push: 0, claim: 0, ack: 0, calls: 0 });
  return timed(ms, async () => {
    const t0 = performance.now();
    await jobs.pushMany("k", batch);
    const t1 = performance.now();
    const claimed = await jobs.claim("k", { limit });
    const t2 = performance.now();
    const done = await jobs.ackMany(claimed);
    stepMs.push += t1 - t0;
    stepMs.claim += t2 - t1;
    stepMs.ack += performance.now() - t2;
    stepMs.calls++;
    return done.acked;
  });
}

const load = async () => (await import("node:fs")).readFileSync("/proc/loadavg", "utf8").trim();
const fmt = (n: number) => n.toFixed(0).padStart(7);

async function main(): Promise<void> {
  const server = await startPostgres();
  try {
    const pool = new pg.Pool({ connectionString: server.dsn, max: POOL_SIZE });
    pool.on("error", () => undefined); // idle connections ended by the server at shutdown
    const store = await openStore({ backend: "postgres", dsn: server.dsn, schema: "bench_work", poolSize: POOL_SIZE, sweepIntervalMs: 0 });
    try {
      console.log(`load before: ${await load()}`);
      console.log(`## claims at c=${CONCURRENCY} over one key of ${PREFILL} items, ${seconds}s rounds`);
      for (const limit of process.argv[4] === "cycle" ? [] : [1, 16]) {
        for (let round = 0; round < rounds; round++) {
          await fill(pool);
          const ser = await claimsSerializable(pool, seconds * 1000, limit);
          await fill(pool);
          const rc = await claimsReadCommitted(pool, seconds * 1000, limit);
          console.log(
            `limit ${String(limit).padStart(2)} round ${round + 1}: SERIALIZABLE ${fmt(ser.rate)} items/s (${(ser.failures / Math.max(1, ser.claims)).toFixed(2)} 40001/claim) | READ COMMITTED + SKIP LOCKED ${fmt(rc.rate)} items/s (0 40001) | ratio ${(rc.rate / ser.rate).toFixed(1)}`,
          );
        }
      }
      console.log(`## cycle push+claim+ack at c=${CONCURRENCY}, ${seconds}s rounds`);
      await fill(pool);
      for (const limit of [1, 16]) {
        for (let round = 0; round < rounds; round++) {
          const raw = await rawCycle(pool, seconds * 1000, limit);
          const stowage = await storeCycle(store, seconds * 1000, limit);
          const per = (step: number) => (step / Math.max(1, stepMs.calls)).toFixed(0);
          console.log(
            `limit ${String(limit).padStart(2)} round ${round + 1}: stowage ${fmt(stowage)} jobs/s | raw SKIP LOCKED ${fmt(raw)} jobs/s | ratio ${(stowage / raw).toFixed(2)} (stowage ms per push ${per(stepMs.push)}, claim ${per(stepMs.claim)}, ack ${per(stepMs.ack)})`,
          );
        }
      }
      console.log(`load after: ${await load()}`);
    } finally {
      await store.close();
      await pool.end();
    }
  } finally {
    server.destroy();
  }
}

await main();
