/**
 * PostgreSQL baselines on the same throwaway server (fsync on, synchronous_commit on): raw `pg` statements through a
 * pg.Pool of the stowage engine's default size (10), and pg-boss send + fetch + complete when installed.
 */
import { randomInt } from "node:crypto";
import { createRequire } from "node:module";
import pg from "pg";
import type { BaselineCase } from "./baseline.js";
import { pad, VALUE, valueFor, getKeyOf } from "./fixtures.js";
import { completeBatch, WORK_ROWS } from "./work-cycle.js";

const KV_KEYS = 10_000;
/** The stowage PostgreSQL engine's default pool size, so both sides have the same connections. */
export const POOL_SIZE = 10;
/** The raw three-statement queue cycle: the floor any PostgreSQL queue pays for two synced commits and a read. */
export const RAW_PG_QUEUE = "raw pg, three statements";

const UPSERT = "INSERT INTO bench_raw.kv (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v";
const VALUE_BUFFER = Buffer.from(VALUE);

async function openPool(dsn: string, table: string): Promise<pg.Pool> {
  const pool = new pg.Pool({ connectionString: dsn, max: POOL_SIZE });
  await pool.query("CREATE SCHEMA IF NOT EXISTS bench_raw");
  await pool.query(`DROP TABLE IF EXISTS bench_raw.${table}`);
  await pool.query(`CREATE TABLE bench_raw.${table} (k TEXT PRIMARY KEY, v BYTEA NOT NULL)`);
  return pool;
}

export const RAW_PG = "raw pg (Pool)";
/** pg-boss's rows (queue.cycle, and the work rows). */
export const PG_BOSS = "pg-boss";

export function rawPgBaselines(dsn: string): BaselineCase[] {
  return [
    {
      subject: RAW_PG,
      op: "kv.put",
      describe: `named INSERT … ON CONFLICT DO UPDATE on a pg.Pool of ${POOL_SIZE}, one autocommit per put`,
      async build() {
        const pool = await openPool(dsn, "kv");
        return {
          body: { op: (i) => pool.query({ name: "raw_put", text: UPSERT, values: [`k${pad(i % KV_KEYS, 6)}`, valueFor(i)] }) },
          close: () => pool.end(),
        };
      },
    },
    {
      subject: RAW_PG,
      op: "kv.get",
      describe: "named SELECT v FROM kv WHERE k = $1",
      async build() {
        const pool = await openPool(dsn, "kv");
        await pool.query(
          `INSERT INTO bench_raw.kv (k, v) SELECT 'k' || lpad(g::text, 6, '0'), $1 FROM generate_series(0, ${KV_KEYS - 1}) g`,
          [VALUE_BUFFER],
        );
        const keyOf = getKeyOf(KV_KEYS);
        return {
          body: {
            op: (i) => pool.query({ name: "raw_get", text: "SELECT v FROM bench_raw.kv WHERE k = $1", values: [keyOf(i)] }),
          },
          close: () => pool.end(),
        };
      },
    },
    {
      subject: RAW_PG_QUEUE,
      op: "queue.cycle",
      describe:
        "the physical floor of a queue cycle: INSERT … RETURNING id (bigserial), SELECT the head, DELETE it — three autocommit statements, no ordering lock, one queue key per worker",
      async build() {
        const pool = new pg.Pool({ connectionString: dsn, max: POOL_SIZE });
        await pool.query("CREATE SCHEMA IF NOT EXISTS bench_raw");
        await pool.query("DROP TABLE IF EXISTS bench_raw.queue");
        await pool.query("CREATE TABLE bench_raw.queue (k TEXT NOT NULL, id BIGSERIAL, v BYTEA NOT NULL, PRIMARY KEY (k, id))");
        return {
          body: {
            op: async (i, w) => {
              const k = `w${w}`;
              await pool.query({ name: "raw_push", text: "INSERT INTO bench_raw.queue (k, v) VALUES ($1, $2) RETURNING id", values: [k, valueFor(i)] });
              const head = await pool.query({ name: "raw_peek", text: "SELECT id, v FROM bench_raw.queue WHERE k = $1 ORDER BY id LIMIT 1", values: [k] });
              const id = (head.rows[0] as { id: string } | undefined)?.id;
              const acked = await pool.query({ name: "raw_ack", text: "DELETE FROM bench_raw.queue WHERE k = $1 AND id = $2", values: [k, id] });
              if (acked.rowCount !== 1) throw new Error("raw queue cycle lost its item");
            },
          },
          close: () => pool.end(),
        };
      },
    },
  ];
}

/** Checks that pg-boss loads; the reason when it does not. */
export async function pgBossUnavailable(): Promise<string | undefined> {
  try {
    await import("pg-boss");
    return undefined;
  } catch (error) {
    return (error as Error).message.split("\n")[0];
  }
}

export function pgBossBaselines(dsn: string): BaselineCase[] {
  return [
    {
      subject: PG_BOSS,
      op: "queue.cycle",
      describe: `send + fetch + complete of one job (JSON payload), pool of ${POOL_SIZE}, maintenance and scheduling off`,
      async build(c) {
        const { default: PgBoss } = await import("pg-boss");
        const boss = new PgBoss({ connectionString: dsn, schema: "bench_pgboss", max: POOL_SIZE, supervise: false, schedule: false });
        boss.on("error", () => undefined);
        await boss.start();
        const name = `bench-c${c}`;
        await boss.createQueue(name);
        const payload = { value: VALUE_BUFFER.toString("base64") };
        return {
          body: {
            op: async () => {
              await boss.send(name, payload);
              const [job] = await boss.fetch(name);
              if (job !== undefined) await boss.complete(name, job.id);
            },
          },
          close: () => boss.stop({ graceful: false, wait: true }),
        };
      },
    },
  ];
}

/** The raw work cycle: what any SKIP LOCKED queue on PostgreSQL pays, with no coalescing of concurrent callers. */
export const RAW_PG_WORK = "raw SKIP LOCKED (RC pool)";

const RAW_WORK_PUSH =
  "INSERT INTO bench_raw.work (k, visible_at, v) SELECT $1, $2, v FROM unnest($3::bytea[]) AS t(v) RETURNING id";
/**
 * The locking select as a CTE, evaluated once: as a subquery in FROM the planner may rescan it (the inner side of a
 * nested loop, or an EvalPlanQual recheck after a concurrent update), and each rescan locks further rows: a claim of
 * at most 16 once updated 64 (bench run of 2026-12-03 under load). pg-boss's fetch has the same WITH form.
 */
const RAW_WORK_CLAIM =
  "WITH c AS (SELECT id FROM bench_raw.work WHERE k = $1 AND visible_at <= $4 ORDER BY visible_at, id LIMIT $5 FOR UPDATE SKIP LOCKED) " +
  "UPDATE bench_raw.work w SET token = $2, visible_at = $3, attempts = w.attempts + 1 FROM c " +
  "WHERE w.k = $1 AND w.id = c.id RETURNING w.id, w.token, w.v, w.attempts";
const RAW_WORK_ACK =
  "DELETE FROM bench_raw.work WHERE k = $1 AND (id, token) IN (SELECT * FROM unnest($2::bigint[], $3::bigint[]))";

/**
 * The raw SKIP LOCKED baselines of the work rows: three autocommit statements per step on a READ COMMITTED pg.Pool
 * of {@link POOL_SIZE} (push: one INSERT of `batch` rows; claim: WITH c AS (SELECT … FOR UPDATE SKIP LOCKED LIMIT n)
 * UPDATE … FROM c with a random token and a 30 s deadline; ack: DELETE by (id, token)), one queue key shared by every
 * worker.
 */
export function rawPgWorkBaselines(dsn: string): BaselineCase[] {
  return WORK_ROWS.map(({ op, batch }) => ({
    subject: RAW_PG_WORK,
    op,
    describe: `${batch === 1 ? "INSERT … RETURNING id" : `one INSERT of ${batch} rows (unnest)`}; WITH c AS (SELECT … FOR UPDATE SKIP LOCKED LIMIT ${batch === 1 ? 1 : "≤ 16"}) UPDATE … FROM c RETURNING; DELETE … WHERE (id, token) IN (unnest …) — autocommit statements at READ COMMITTED on a pg.Pool of ${POOL_SIZE}, one queue key shared by every worker, no coalescing`,
    async build() {
      const pool = new pg.Pool({ connectionString: dsn, max: POOL_SIZE, options: "-c default_transaction_isolation=read\\ committed" });
      await pool.query("CREATE SCHEMA IF NOT EXISTS bench_raw");
      await pool.query("DROP TABLE IF EXISTS bench_raw.work");
      await pool.query(
        "CREATE TABLE bench_raw.work (k TEXT NOT NULL, id BIGSERIAL, token BIGINT, visible_at BIGINT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, v BYTEA NOT NULL, PRIMARY KEY (k, id))",
      );
      await pool.query("CREATE INDEX ON bench_raw.work (k, visible_at, id)");
      const key = "shared";
      return {
        body: {
          op: (i) =>
            completeBatch<{ id: string; token: string }>(batch, {
              push: () =>
                pool.query({ name: "raw_work_push", text: RAW_WORK_PUSH, values: [key, Date.now(), Array.from({ length: batch }, (_, j) => valueFor(i * batch + j))] }),
              claim: async (limit) => {
                const now = Date.now();
                const token = randomInt(1, 2 ** 48);
                const claimed = await pool.query({ name: "raw_work_claim", text: RAW_WORK_CLAIM, values: [key, token, now + 30_000, now, limit] });
                return claimed.rows as Array<{ id: string; token: string }>;
              },
              ack: async (jobs) => {
                const acked = await pool.query({ name: "raw_work_ack", text: RAW_WORK_ACK, values: [key, jobs.map((j) => j.id), jobs.map((j) => j.token)] });
                return acked.rowCount ?? 0;
              },
            }),
        },
        close: () => pool.end(),
      };
    },
  }));
}

/**
 * pg-boss's side of the work rows: `send` (b=1) or `insert` of `batch` jobs, `fetch(name, { batchSize })`, `complete(name,
 * ids)`; a pool of {@link POOL_SIZE}, maintenance (supervise) and scheduling off, one queue shared by every worker.
 */
export function pgBossWorkBaselines(dsn: string): BaselineCase[] {
  return WORK_ROWS.map(({ op, batch }) => ({
    subject: PG_BOSS,
    op,
    describe: `${batch === 1 ? "send" : `insert of ${batch} jobs`} + fetch(name, { batchSize: ${batch === 1 ? 1 : "≤ 16"} }) + complete(name, ids) (JSON payload), pool of ${POOL_SIZE}, maintenance and scheduling off, one queue shared by every worker`,
    async build(c) {
      const { default: PgBoss } = await import("pg-boss");
      const boss = new PgBoss({ connectionString: dsn, schema: "bench_pgboss", max: POOL_SIZE, supervise: false, schedule: false });
      boss.on("error", () => undefined);
      await boss.start();
      const name = `work-b${batch}-c${c}`;
      await boss.createQueue(name);
      const data = { value: VALUE_BUFFER.toString("base64") };
      return {
        body: {
          op: () =>
            completeBatch<{ id: string }>(batch, {
              push: () => (batch === 1 ? boss.send(name, data) : boss.insert(Array.from({ length: batch }, () => ({ name, data })))),
              claim: (limit) => boss.fetch(name, { batchSize: limit }),
              ack: async (jobs) => {
                const done = (await boss.complete(name, jobs.map((j) => j.id))) as unknown as { affected: number };
                return done.affected;
              },
            }),
        },
        close: () => boss.stop({ graceful: false, wait: true }),
      };
    },
  }));
}

/** The version and Node engines range of the pg-boss the baselines load (the repo's devDependency). */
export function pgBossPackage(): { version: string; node: string } {
  const pkg = createRequire(import.meta.url)("pg-boss/package.json") as { version: string; engines?: { node?: string } };
  return { version: pkg.version, node: pkg.engines?.node ?? "(none)" };
}
