/** The performance targets of the benchmark issue, each a minimum ratio stowage / baseline for one case. */
import { RAW_LEVELDB } from "./baselines-leveldb.js";
import { RAW_LMDB } from "./baselines-lmdb.js";
import { MAP_AWAITED } from "./baselines-memory.js";
import { RAW_AZURE_TABLE } from "./baselines-azure-table.js";
import { RAW_ETCD, RAW_ETCD_TXN } from "./baselines-etcd.js";
import { PG_BOSS, RAW_PG, RAW_PG_QUEUE, RAW_PG_WORK } from "./baselines-postgres.js";
import { RAW_IOREDIS, RAW_IOREDIS_CAS } from "./baselines-redis.js";
import { RAW_GROUPED, RAW_SAME_TABLE } from "./baselines-sqlite.js";
import { METRICS_SUBJECT, unwrappedSubject } from "./cases-wrappers.js";
import { pairedSubject } from "./paired.js";
import type { EngineName } from "./options.js";
import { WORK_CONCURRENCY, WORK_ROWS } from "./work-cycle.js";

export interface Target {
  label: string;
  engine: EngineName;
  op: string;
  concurrency: number;
  baseline: string;
  min: number;
  /** The row measured against the baseline (default stowage); a wrapper row is compared with its unwrapped twin. */
  subject?: string;
  /** The engine of the baseline's row, when not `engine` (SQLite's work cycle against pg-boss on PostgreSQL). */
  baselineEngine?: EngineName;
}

const RAW = "raw better-sqlite3";
const STOWAGE = "stowage";

/** A target on a paired row: stowage and `baseline` measured in alternating rounds (paired.ts). */
const paired = (target: Omit<Target, "subject">): Target => ({ ...target, subject: pairedSubject(STOWAGE, target.baseline), baseline: pairedSubject(target.baseline, STOWAGE) });
const KEYV = "Keyv + @keyv/sqlite";

/** The targets of a networked engine: get and put at c=1 ≥ 0.8× the raw client, put at c=16 ≥ 1×, get at c=16 ≥ 0.8×. */
function networkTargets(label: string, engine: EngineName, raw: string, checkAndSet?: string): Target[] {
  const targets = [
    paired({ label: `${label} get, c=1, ≥ 0.8× ${raw}, alternating rounds`, engine, op: "kv.get", concurrency: 1, baseline: raw, min: 0.8 }),
    paired({ label: `${label} get, c=16, ≥ 0.8× ${raw}, alternating rounds`, engine, op: "kv.get", concurrency: 16, baseline: raw, min: 0.8 }),
    paired({ label: `${label} put, c=1, ≥ 0.8× ${raw}, alternating rounds`, engine, op: "kv.put", concurrency: 1, baseline: raw, min: 0.8 }),
    paired({ label: `${label} put, c=16, ahead of ${raw} (≥ 1×, group commit), alternating rounds`, engine, op: "kv.put", concurrency: 16, baseline: raw, min: 1 }),
  ];
  if (checkAndSet !== undefined) {
    targets.push(
      paired({ label: `${label} put, c=1, ≥ 0.8× ${checkAndSet}, alternating rounds`, engine, op: "kv.put", concurrency: 1, baseline: checkAndSet, min: 0.8 }),
      paired({ label: `${label} put, c=16, ahead of ${checkAndSet} (≥ 1×), alternating rounds`, engine, op: "kv.put", concurrency: 16, baseline: checkAndSet, min: 1 }),
    );
  }
  return targets;
}

/**
 * Issue 21's work-queue targets, per row at its batch size (bench/work-cycle.ts), at c=16: PostgreSQL ≥ 10× pg-boss and
 * ≥ 0.8× the raw SKIP LOCKED cycle, both in alternating rounds; SQLite ≥ 20× pg-boss on PostgreSQL (another engine's
 * section, so not alternating: stowage's plain SQLite row against pg-boss's side of the PostgreSQL pair). The SQLite
 * commit-sharing target is a fact, not a ratio: report.ts adds it after these.
 */
const WORK_TARGETS: Target[] = WORK_ROWS.flatMap(({ op, batch }) => {
  const what = batch === 1 ? "push+claim+ack of 1 job" : `push+claim+ack of ${batch}-job batches`;
  const c = WORK_CONCURRENCY;
  return [
    paired({ label: `PostgreSQL work ${what}, c=${c}, ≥ 10× ${PG_BOSS} (batch ${batch}), alternating rounds`, engine: "postgres", op, concurrency: c, baseline: PG_BOSS, min: 10 }),
    paired({ label: `PostgreSQL work ${what}, c=${c}, ≥ 0.8× ${RAW_PG_WORK} (batch ${batch}), alternating rounds`, engine: "postgres", op, concurrency: c, baseline: RAW_PG_WORK, min: 0.8 }),
    { label: `SQLite work ${what}, c=${c}, ≥ 20× ${PG_BOSS} on PostgreSQL (batch ${batch})`, engine: "sqlite", op, concurrency: c, baseline: pairedSubject(PG_BOSS, STOWAGE), baselineEngine: "postgres", min: 20 },
  ];
});

export const TARGETS: readonly Target[] = [
  { label: "SQLite KV put, c=16, ≥ 20× raw one-synced-autocommit-per-put", engine: "sqlite", op: "kv.put", concurrency: 16, baseline: RAW, min: 20 },
  { label: `SQLite KV put, c=16, ≥ 0.8× ${RAW_GROUPED} (the bound at 16 in flight)`, engine: "sqlite", op: "kv.put", concurrency: 16, baseline: RAW_GROUPED, min: 0.8 },
  { label: "SQLite KV put, c=64, ≥ 20× raw one-synced-autocommit-per-put", engine: "sqlite", op: "kv.put", concurrency: 64, baseline: RAW, min: 20 },
  { label: "SQLite KV put through withMetrics, c=1, overhead under 10% (≥ 0.91× unwrapped)", engine: "sqlite", op: "kv.put", concurrency: 1, subject: METRICS_SUBJECT, baseline: unwrappedSubject(METRICS_SUBJECT), min: 0.91 },
  { label: "SQLite KV put through withMetrics, c=16, overhead under 10% (≥ 0.91× unwrapped)", engine: "sqlite", op: "kv.put", concurrency: 16, subject: METRICS_SUBJECT, baseline: unwrappedSubject(METRICS_SUBJECT), min: 0.91 },
  { label: "SQLite single put, c=1, ≥ 0.9× raw better-sqlite3", engine: "sqlite", op: "kv.put", concurrency: 1, baseline: RAW, min: 0.9 },
  { label: "SQLite single get, c=1, ≥ 0.9× raw better-sqlite3", engine: "sqlite", op: "kv.get", concurrency: 1, baseline: RAW, min: 0.9 },
  paired({ label: `SQLite single get, c=1, ≥ 0.9× ${RAW_SAME_TABLE} (the layers' cost alone), alternating rounds`, engine: "sqlite", op: "kv.get", concurrency: 1, baseline: RAW_SAME_TABLE, min: 0.9 }),
  paired({ label: `SQLite get, c=16, ≥ 0.9× ${RAW_SAME_TABLE}, alternating rounds`, engine: "sqlite", op: "kv.get", concurrency: 16, baseline: RAW_SAME_TABLE, min: 0.9 }),
  { label: "SQLite put, c=1, ≥ 10× Keyv", engine: "sqlite", op: "kv.put", concurrency: 1, baseline: KEYV, min: 10 },
  { label: "SQLite put, c=16, ≥ 10× Keyv", engine: "sqlite", op: "kv.put", concurrency: 16, baseline: KEYV, min: 10 },
  { label: "SQLite get, c=1, ≥ 10× Keyv", engine: "sqlite", op: "kv.get", concurrency: 1, baseline: KEYV, min: 10 },
  { label: "SQLite get, c=16, ≥ 10× Keyv", engine: "sqlite", op: "kv.get", concurrency: 16, baseline: KEYV, min: 10 },
  paired({ label: "Memory get, c=1, ≥ 0.5× Map, alternating rounds", engine: "memory", op: "kv.get", concurrency: 1, baseline: MAP_AWAITED, min: 0.5 }),
  paired({ label: "Memory get, c=16, ≥ 0.5× Map, alternating rounds", engine: "memory", op: "kv.get", concurrency: 16, baseline: MAP_AWAITED, min: 0.5 }),
  { label: "PostgreSQL KV put, c=16, ≥ 0.8× raw pg", engine: "postgres", op: "kv.put", concurrency: 16, baseline: RAW_PG, min: 0.8 },
  paired({ label: "PostgreSQL get, c=1, ≥ 0.9× raw pg, alternating rounds", engine: "postgres", op: "kv.get", concurrency: 1, baseline: RAW_PG, min: 0.9 }),
  paired({ label: "PostgreSQL get, c=16, ≥ 0.9× raw pg, alternating rounds", engine: "postgres", op: "kv.get", concurrency: 16, baseline: RAW_PG, min: 0.9 }),
  { label: "Queue push+peek+ack, c=1, ≥ 10× pg-boss send+fetch+complete", engine: "postgres", op: "queue.cycle", concurrency: 1, baseline: "pg-boss", min: 10 },
  { label: "Queue push+peek+ack, c=16, ≥ 10× pg-boss send+fetch+complete", engine: "postgres", op: "queue.cycle", concurrency: 16, baseline: "pg-boss", min: 10 },
  { label: `Queue push+peek+ack, c=1, ≥ 0.8× ${RAW_PG_QUEUE} (the floor of any PostgreSQL queue)`, engine: "postgres", op: "queue.cycle", concurrency: 1, baseline: RAW_PG_QUEUE, min: 0.8 },
  { label: `Queue push+peek+ack, c=16, ≥ 0.8× ${RAW_PG_QUEUE}`, engine: "postgres", op: "queue.cycle", concurrency: 16, baseline: RAW_PG_QUEUE, min: 0.8 },
  // The ordered-KV family against its drivers, on rows of the family's shape (bench/baselines-lmdb.ts).
  paired({ label: `LMDB get, c=1, ≥ 0.8× ${RAW_LMDB} get of the same key and value, alternating rounds`, engine: "lmdb", op: "kv.get", concurrency: 1, baseline: RAW_LMDB, min: 0.8 }),
  paired({ label: `LMDB get, c=16, ≥ 0.8× ${RAW_LMDB} get, alternating rounds`, engine: "lmdb", op: "kv.get", concurrency: 16, baseline: RAW_LMDB, min: 0.8 }),
  paired({ label: `LMDB put, c=16, durable commits, ≥ 0.9× ${RAW_LMDB} committing 16 puts per transaction, alternating rounds`, engine: "lmdb", op: "kv.put", concurrency: 16, baseline: RAW_LMDB, min: 0.9 }),
  paired({ label: `LevelDB get, c=1, ≥ 0.8× ${RAW_LEVELDB} get of the same key and value, alternating rounds`, engine: "leveldb", op: "kv.get", concurrency: 1, baseline: RAW_LEVELDB, min: 0.8 }),
  paired({ label: `LevelDB get, c=16, ≥ 0.8× ${RAW_LEVELDB} get, alternating rounds`, engine: "leveldb", op: "kv.get", concurrency: 16, baseline: RAW_LEVELDB, min: 0.8 }),
  paired({ label: `LevelDB put, c=16, synced batches, ≥ 0.9× ${RAW_LEVELDB} writing 16 puts per synced batch, alternating rounds`, engine: "leveldb", op: "kv.put", concurrency: 16, baseline: RAW_LEVELDB, min: 0.9 }),
  // The networked engines against their own clients on the same server (issue 19): ≥ 0.8× on single operations, and
  // ahead (≥ 1×) under concurrency where batching applies (puts: group commit).
  ...networkTargets("etcd", "etcd", RAW_ETCD, RAW_ETCD_TXN),
  ...networkTargets("Redis", "redis", RAW_IOREDIS, RAW_IOREDIS_CAS),
  ...networkTargets("Azure Table", "azure-table", RAW_AZURE_TABLE),
  ...WORK_TARGETS,
];
