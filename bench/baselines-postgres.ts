/**
 * PostgreSQL baselines on the same throwaway server (fsync on, synchronous_commit on): raw `pg` statements through a
 * pg.Pool of the stowage engine's default size (10), and pg-boss send + fetch + complete when installed.
 */
import pg from "pg";
import type { BaselineCase } from "./baseline.js";
import { pad, VALUE, valueFor } from "./fixtures.js";

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
        return {
          body: {
            op: (i) => pool.query({ name: "raw_get", text: "SELECT v FROM bench_raw.kv WHERE k = $1", values: [`k${pad((i * 7919) % KV_KEYS, 6)}`] }),
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
      subject: "pg-boss",
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
