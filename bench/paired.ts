/**
 * Paired rows: a stowage case and the raw baseline it is held to, measured in alternating rounds ({@link alternate})
 * on the same machine at the same moments, so that the target's ratio is the median of the rounds' ratios rather than
 * a ratio of two medians measured minutes apart. The read-path and commit targets of the engine-contract issue use them.
 */
import type { Store } from "../src/index.js";
import { alternate } from "./alternate.js";
import type { BaselineCase } from "./baseline.js";
import { RAW_LEVELDB } from "./baselines-leveldb.js";
import { RAW_LMDB, RAW_LMDB_FRESH } from "./baselines-lmdb.js";
import { MAP_AWAITED, MAP_AWAITED_COPY } from "./baselines-memory.js";
import { RAW_AZURE_TABLE } from "./baselines-azure-table.js";
import { RAW_ETCD, RAW_ETCD_TXN } from "./baselines-etcd.js";
import { PG_BOSS, RAW_PG, RAW_PG_WORK } from "./baselines-postgres.js";
import { RAW_IOREDIS, RAW_IOREDIS_CAS, REDIS_OWN } from "./baselines-redis.js";
import { RAW_SAME_TABLE } from "./baselines-sqlite.js";
import { STOWAGE_CASES } from "./cases-stowage.js";
import type { RunLimits } from "./harness.js";
import type { EngineName } from "./options.js";
import { WORK_CONCURRENCY, WORK_ROWS } from "./work-cycle.js";
import type { CaseResult } from "./report.js";

export interface PairedCase {
  engine: EngineName;
  op: string;
  /** The baseline's subject, one of the engine's baseline cases. */
  baseline: string;
  concurrencies: readonly number[];
  /** A baseline that may be missing (pg-boss not installed): the pair is then left out instead of failing the section. */
  optional?: boolean;
}

/** The work rows on PostgreSQL, each against the raw SKIP LOCKED cycle and pg-boss (bench/work-cycle.ts). */
const POSTGRES_WORK_PAIRS: PairedCase[] = WORK_ROWS.flatMap(({ op }) => [
  { engine: "postgres" as const, op, baseline: RAW_PG_WORK, concurrencies: [WORK_CONCURRENCY] },
  { engine: "postgres" as const, op, baseline: PG_BOSS, concurrencies: [WORK_CONCURRENCY], optional: true },
]);

export const PAIRED_CASES: readonly PairedCase[] = [
  { engine: "memory", op: "kv.get", baseline: MAP_AWAITED, concurrencies: [1, 16] },
  { engine: "memory", op: "kv.get", baseline: MAP_AWAITED_COPY, concurrencies: [1, 16] },
  { engine: "sqlite", op: "kv.get", baseline: RAW_SAME_TABLE, concurrencies: [1, 16] },
  { engine: "postgres", op: "kv.get", baseline: RAW_PG, concurrencies: [1, 16] },
  { engine: "lmdb", op: "kv.get", baseline: RAW_LMDB, concurrencies: [1, 16] },
  { engine: "lmdb", op: "kv.get", baseline: RAW_LMDB_FRESH, concurrencies: [1, 16] },
  { engine: "lmdb", op: "kv.put", baseline: RAW_LMDB, concurrencies: [16] },
  { engine: "leveldb", op: "kv.get", baseline: RAW_LEVELDB, concurrencies: [1, 16] },
  { engine: "leveldb", op: "kv.put", baseline: RAW_LEVELDB, concurrencies: [16] },
  { engine: "etcd", op: "kv.get", baseline: RAW_ETCD, concurrencies: [1, 16] },
  { engine: "etcd", op: "kv.put", baseline: RAW_ETCD, concurrencies: [1, 16] },
  { engine: "etcd", op: "kv.put", baseline: RAW_ETCD_TXN, concurrencies: [1, 16] },
  { engine: "redis", op: "kv.get", baseline: RAW_IOREDIS, concurrencies: [1, 16] },
  { engine: "redis", op: "kv.put", baseline: RAW_IOREDIS, concurrencies: [1, 16] },
  { engine: "redis", op: "kv.put", baseline: RAW_IOREDIS_CAS, concurrencies: [1, 16] },
  // The Redis design question: the family's commit against one script per primitive over Redis's own structures.
  { engine: "redis", op: "kv.get", baseline: REDIS_OWN, concurrencies: [1, 16] },
  { engine: "redis", op: "kv.put", baseline: REDIS_OWN, concurrencies: [1, 16] },
  { engine: "redis", op: "log.append", baseline: REDIS_OWN, concurrencies: [1, 16] },
  { engine: "azure-table", op: "kv.get", baseline: RAW_AZURE_TABLE, concurrencies: [1, 16] },
  { engine: "azure-table", op: "kv.put", baseline: RAW_AZURE_TABLE, concurrencies: [1, 16] },
  ...POSTGRES_WORK_PAIRS,
];

/** The subject of a paired row: `stowage ⇄ raw lmdb` is stowage's side of its pair with raw lmdb, and the reverse. */
export const pairedSubject = (side: string, other: string): string => `${side} ⇄ ${other}`;

/**
 * The paired rows of `engine` (those `selected` keeps): each pair's stowage case on `store` and its baseline, built
 * for the pair and closed after it. Both rows name each other in `pairedWith`. `store` may be an opener instead: each
 * pair then runs on a store opened for it and closed after it, as each raw baseline starts from an empty database.
 */
export async function runPaired(
  engine: EngineName,
  store: Store | (() => Promise<Store>),
  baselines: readonly BaselineCase[],
  limitsAt: (concurrency: number) => RunLimits,
  selected: (subject: string, op: string) => boolean,
  results: CaseResult[],
  progress: (line: string) => void,
): Promise<void> {
  for (const pair of PAIRED_CASES) {
    if (pair.engine !== engine || !selected(pair.baseline, pair.op)) continue;
    const mine = STOWAGE_CASES.find((bench) => bench.op === pair.op);
    const base = baselines.find((b) => b.subject === pair.baseline && b.op === pair.op);
    if (base === undefined && pair.optional === true) {
      progress(`${engine} ${pair.op} paired with ${pair.baseline} left out: that baseline is not available`);
      continue;
    }
    if (mine === undefined || base === undefined) throw new Error(`paired case ${engine} ${pair.op} names no stowage case or no baseline ${pair.baseline}`);
    for (const c of pair.concurrencies) {
      const stowageSubject = pairedSubject("stowage", pair.baseline);
      const baselineSubject = pairedSubject(pair.baseline, "stowage");
      const row = (subject: string, describe: string, pairedWith: string): CaseResult => ({ engine, subject, op: pair.op, concurrency: c, describe, pairedWith });
      const ours = row(stowageSubject, `${mine.describe}, in rounds alternating with ${pair.baseline}`, baselineSubject);
      const theirs = row(baselineSubject, `${base.describe}, in rounds alternating with stowage`, stowageSubject);
      let close: (() => Promise<void>) | undefined;
      let own: Store | undefined;
      try {
        const built = await base.build(c);
        close = built.close;
        const target = typeof store === "function" ? (own = await store()) : store;
        const measured = await alternate(await mine.build(target, c), built.body, limitsAt(c));
        ours.summary = measured.first;
        theirs.summary = measured.second;
        progress(`${engine} ${pair.op} c=${c}: stowage ${Math.round(measured.first.opsPerSec)} ops/s ⇄ ${pair.baseline} ${Math.round(measured.second.opsPerSec)} ops/s`);
      } catch (error) {
        ours.error = theirs.error = (error as Error).message;
        progress(`${engine} ${pair.op} c=${c} paired with ${pair.baseline} FAILED: ${ours.error}`);
      } finally {
        await close?.().catch(() => undefined);
        await own?.close().catch(() => undefined);
      }
      results.push(ours, theirs);
    }
  }
}
