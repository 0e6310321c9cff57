/**
 * The migration benchmark: SQLite → PostgreSQL of a store holding `--entries` KV entries (default 10⁶) plus a log and
 * queues of a tenth of that each, by `migrateStore`, against a raw-driver copy of the same rows (better-sqlite3
 * reads, node-postgres multi-row inserts of 1,000 rows through `unnest`, one batch in flight, into plain tables
 * of the same columns). Rounds alternate (raw, stowage, raw, stowage…) on one PostgreSQL server, each into a fresh
 * schema; the figure is items/s and the ratio stowage ÷ raw.
 *
 *   node dist/bench/migration.js [--entries N] [--rounds R] [--out FILE]
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import Database from "better-sqlite3";
import pg from "pg";
import { openStore } from "../src/open-store.js";
import { migrateStore } from "../src/operations/store-dumps.js";
import { startPostgres } from "../test/helpers/postgres-server.js";

const { values } = parseArgs({ options: { entries: { type: "string" }, rounds: { type: "string" }, out: { type: "string" } } });
const ENTRIES = Number(values.entries ?? 1_000_000);
const ROUNDS = Number(values.rounds ?? 2);
const BATCH = 1_000;

const folder = mkdtempSync(join(tmpdir(), "stowage-bench-migration-"));
const sourcePath = join(folder, "source.db");
const say = (text: string) => process.stderr.write(`${text}\n`);
/** The machine's 1-minute load average (the bench shares its cores with whatever else runs). */
const loadAverage = () => readFileSync("/proc/loadavg", "utf8").split(" ")[0] ?? "?";

/** Fills the source through stowage: KV entries (a third with a TTL), a log and queues of ENTRIES / 10 each. */
async function fillSource(): Promise<number> {
  const store = await openStore({ backend: "sqlite", path: sourcePath, durability: "process", sweepIntervalMs: 0 });
  const value = new Uint8Array(100).fill(7);
  const side = Math.floor(ENTRIES / 10);
  try {
    for (let start = 0; start < ENTRIES; start += 10_000) {
      await store.transaction(async (tx) => {
        const kv = tx.kv("bulk");
        for (let i = start; i < Math.min(start + 10_000, ENTRIES); i++) await kv.put(`key/${String(i).padStart(8, "0")}`, value, i % 3 === 0 ? { ttlMs: 86_400_000 } : undefined);
      });
    }
    // Two writes per step: 5,000 steps keep a transaction within LIMITS.maxTransactionWrites.
    for (let start = 0; start < side; start += 5_000) {
      await store.transaction(async (tx) => {
        for (let i = start; i < Math.min(start + 5_000, side); i++) {
          await tx.log("events").append(`stream-${i % 16}`, value);
          await tx.queue("jobs").push(`queue-${i % 8}`, value);
        }
      });
    }
  } finally {
    await store.close();
  }
  return ENTRIES + 2 * side;
}

/** The raw copy: every row read with better-sqlite3 and written with multi-row inserts, one batch in flight. */
async function rawCopy(dsn: string, schema: string): Promise<number> {
  const client = new pg.Client({ connectionString: dsn });
  await client.connect();
  const db = new Database(sourcePath, { readonly: true });
  let copied = 0;
  try {
    await client.query(`CREATE SCHEMA ${schema}`);
    // The indexes stowage's own tables have, so that both copies maintain the same.
    await client.query(`CREATE TABLE ${schema}.kv (ns text, key text, value bytea, expires_at bigint, PRIMARY KEY (ns, key))`);
    await client.query(`CREATE INDEX ON ${schema}.kv (expires_at) WHERE expires_at IS NOT NULL`);
    await client.query(`CREATE TABLE ${schema}.log (ns text, seq bigint, key text, value bytea, ts bigint, PRIMARY KEY (ns, seq))`);
    await client.query(`CREATE INDEX ON ${schema}.log (ns, key, seq)`);
    await client.query(`CREATE TABLE ${schema}.queue (ns text, key text, id bigint, value bytea, pushed_at bigint, PRIMARY KEY (ns, key, id))`);
    let inFlight: Promise<unknown> = Promise.resolve();
    const copy = async (select: string, insert: string, columns: (row: Record<string, unknown>) => unknown[]) => {
      let batch: unknown[][] = [];
      const flush = async () => {
        if (batch.length === 0) return;
        const arrays = batch[0]!.map((_, column) => batch.map((row) => row[column]));
        batch = [];
        await inFlight;
        inFlight = client.query(insert, arrays);
        copied += arrays[0]!.length;
      };
      for (const row of db.prepare(select).iterate() as Iterable<Record<string, unknown>>) {
        batch.push(columns(row));
        if (batch.length === BATCH) await flush();
      }
      await flush();
    };
    // stowage's SQLite tables (src/engines/sqlite/sqlite-schema.ts), read as they are.
    await copy("SELECT ns, key, value, expires_at FROM stowage_kv", `INSERT INTO ${schema}.kv SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bigint[])`, (row) => [row.ns, row.key, row.value, row.expires_at]);
    await copy("SELECT ns, seq, key, value, ts FROM stowage_log", `INSERT INTO ${schema}.log SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bytea[], $5::bigint[])`, (row) => [row.ns, row.seq, row.key, row.value, row.ts]);
    await copy("SELECT ns, key, id, value, pushed_at FROM stowage_queue", `INSERT INTO ${schema}.queue SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bytea[], $5::bigint[])`, (row) => [row.ns, row.key, row.id, row.value, row.pushed_at]);
    await inFlight;
  } finally {
    db.close();
    await client.end();
  }
  return copied;
}

async function stowageCopy(dsn: string, schema: string): Promise<number> {
  const source = await openStore({ backend: "sqlite", path: sourcePath, sweepIntervalMs: 0 });
  const target = await openStore({ backend: "postgres", dsn, schema, sweepIntervalMs: 0 });
  try {
    const report = await migrateStore(source, target);
    if (!report.validation.equal) throw new Error(`the migration differs: ${report.validation.firstDifference}`);
    return report.items;
  } finally {
    await source.close();
    await target.close();
  }
}

const server = await startPostgres();
try {
  say(`filling the source: ${ENTRIES.toLocaleString("en-US")} KV entries, a log and queues of ${(ENTRIES / 10).toLocaleString("en-US")} each`);
  const total = await fillSource();
  const startLoad = loadAverage();
  const rows: Array<{ round: number; kind: string; items: number; seconds: number; load: string }> = [];
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [kind, run] of [
      ["raw", rawCopy],
      ["stowage", stowageCopy],
    ] as const) {
      const started = process.hrtime.bigint();
      const items = await run(server.dsn, `bench_${kind}_${round}`);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      rows.push({ round, kind, items, seconds, load: loadAverage() });
      say(`round ${round} ${kind}: ${items.toLocaleString("en-US")} items in ${seconds.toFixed(1)} s = ${Math.round(items / seconds).toLocaleString("en-US")} items/s`);
    }
  }
  const rate = (kind: string) => rows.filter((r) => r.kind === kind).map((r) => r.items / r.seconds);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const ratio = median(rate("stowage")) / median(rate("raw"));
  const roundRatios = rate("stowage").map((stowage, i) => stowage / rate("raw")[i]!);
  const report = [
    `# Migration benchmark: SQLite → PostgreSQL`,
    ``,
    `${total.toLocaleString("en-US")} items (${ENTRIES.toLocaleString("en-US")} KV entries, a log and queues of ${(ENTRIES / 10).toLocaleString("en-US")} each), ${ROUNDS} alternating rounds on one PostgreSQL server started for the run.`,
    `Stowage (\`migrateStore\`: snapshot, restore batches, read-back validation included) against a raw copy (better-sqlite3 reads, node-postgres multi-row \`unnest\` inserts of ${BATCH} rows, one batch in flight, no validation).`,
    ``,
    `| round | copy | items | seconds | items/s | load after |`,
    `| --- | --- | ---: | ---: | ---: | ---: |`,
    ...rows.map((r) => `| ${r.round} | ${r.kind} | ${r.items.toLocaleString("en-US")} | ${r.seconds.toFixed(1)} | ${Math.round(r.items / r.seconds).toLocaleString("en-US")} | ${r.load} |`),
    ``,
    `Median items/s: stowage ${Math.round(median(rate("stowage"))).toLocaleString("en-US")}, raw ${Math.round(median(rate("raw"))).toLocaleString("en-US")}: **ratio ${ratio.toFixed(2)}×** (target ≥ 0.5×).`,
    `Per round (stowage ÷ the raw copy just before it): ${roundRatios.map((r) => `${r.toFixed(2)}×`).join(", ")}. Load average (1 min) at the start: ${startLoad}.`,
    ``,
  ].join("\n");
  process.stdout.write(report);
  if (values.out !== undefined) writeFileSync(values.out, report);
} finally {
  server.destroy();
  rmSync(folder, { recursive: true, force: true });
}
