/**
 * `npm run bench`: stowage's primitives on every engine against raw baselines at the same durability, the targets,
 * KV cost at scale, and the work-queue figures (the work.cycle rows in jobs/s, SQLite's commits shared by concurrent
 * workers, wake-up latency from a push to a worker in another process: bench/work-*.ts). Writes
 * bench/results/<date>.md and bench/results/latest.md and prints the same markdown.
 *
 *   node --expose-gc dist/bench/main.js [--quick] [--only memory,sqlite,postgres,lmdb,leveldb,etcd,redis,azure-table] [--case PATTERN,…] [--out DIR]
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { openStore, type OpenStoreOptions, type Store } from "../src/index.js";
import { startAzurite } from "../test/helpers/azurite-server.js";
import { startEtcd } from "../test/helpers/etcd-server.js";
import { startPostgres, type PostgresServer } from "../test/helpers/postgres-server.js";
import { startRedis } from "../test/helpers/redis-server.js";
import { rawAzureTableBaselines } from "./baselines-azure-table.js";
import { rawEtcdBaselines } from "./baselines-etcd.js";
import { rawRedisBaselines } from "./baselines-redis.js";
import type { BaselineCase } from "./baseline.js";
import { RAW_LEVELDB_BASELINES } from "./baselines-leveldb.js";
import { RAW_LMDB_BASELINES } from "./baselines-lmdb.js";
import { MEMORY_BASELINES } from "./baselines-memory.js";
import { pgBossBaselines, pgBossPackage, pgBossUnavailable, pgBossWorkBaselines, POOL_SIZE, rawPgBaselines, rawPgWorkBaselines } from "./baselines-postgres.js";
import { KEYV_BASELINES, keyvUnavailable, RAW_SQLITE_BASELINES } from "./baselines-sqlite.js";
import { STOWAGE_CASES } from "./cases-stowage.js";
import { pairRounds } from "./alternate.js";
import { runPaired } from "./paired.js";
import { measurePair, unwrappedSubject, WRAPPER_CASES } from "./cases-wrappers.js";
import { makeTempDir, removeTempDirs } from "./fixtures.js";
import { measure, type RunLimits } from "./harness.js";
import { caseSelected, NETWORKED_ENGINES, parseOptions, type BenchOptions, type EngineName } from "./options.js";
import { renderReport, STOWAGE, type CaseResult } from "./report.js";
import { runScale, SCALE_ENGINES, type ScaleEngine, type ScaleResults } from "./scale.js";
import { measureCommitSharing } from "./sqlite-commits.js";
import type { WorkFigures } from "./work-report.js";
import { WORK_CONCURRENCY } from "./work-cycle.js";
import { measureWakeup } from "./work-wakeup.js";

const progress = (line: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
};

/** Synchronous clean-ups (server stop, temp folders), run on success, failure, and SIGINT/SIGTERM. */
const finalizers: Array<() => void> = [removeTempDirs];
function finalize(): void {
  while (finalizers.length > 0) {
    try {
      finalizers.pop()?.();
    } catch (error) {
      progress(`clean-up failed: ${(error as Error).message}`);
    }
  }
}
// An uncaught error still exits through 'exit' (the PostgreSQL helper stops its server there too).
process.once("exit", finalize);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    progress(`${signal}: cleaning up`);
    finalize();
    process.exit(130);
  });
}

function limitsFor(options: BenchOptions, engine: EngineName, concurrency: number): RunLimits {
  const maxOps = engine === "postgres" || NETWORKED_ENGINES.includes(engine) ? options.postgresMaxOps : engine === "memory" ? options.memoryMaxOps : options.limits.maxOps;
  return { ...options.limits, maxOps, concurrency };
}

/** The concurrencies a case runs at: its own list, or the run's. */
const concurrenciesOf = (options: BenchOptions, own: readonly number[] | undefined): readonly number[] => own ?? options.concurrencies;

async function runStowage(options: BenchOptions, engine: EngineName, store: Store, results: CaseResult[]): Promise<void> {
  for (const bench of STOWAGE_CASES) {
    if (!caseSelected(options, STOWAGE, bench.op)) continue;
    for (const c of concurrenciesOf(options, bench.concurrencies)) {
      const result: CaseResult = { engine, subject: STOWAGE, op: bench.op, concurrency: c, describe: bench.describe };
      try {
        result.summary = await measure(await bench.build(store, c), limitsFor(options, engine, c));
        progress(`${engine} stowage ${bench.op} c=${c}: ${Math.round(result.summary.opsPerSec)} ops/s`);
      } catch (error) {
        result.error = (error as Error).message;
        progress(`${engine} stowage ${bench.op} c=${c} FAILED: ${result.error}`);
      }
      results.push(result);
    }
  }
}

async function runBaselines(options: BenchOptions, engine: EngineName, baselines: readonly BaselineCase[], results: CaseResult[]): Promise<void> {
  for (const base of baselines) {
    if (!caseSelected(options, base.subject, base.op)) continue;
    for (const c of concurrenciesOf(options, base.concurrencies)) {
      const result: CaseResult = { engine, subject: base.subject, op: base.op, concurrency: c, describe: base.describe };
      let close: (() => Promise<void>) | undefined;
      try {
        const built = await base.build(c);
        close = built.close;
        result.summary = await measure(built.body, limitsFor(options, engine, c));
        progress(`${engine} ${base.subject} ${base.op} c=${c}: ${Math.round(result.summary.opsPerSec)} ops/s`);
      } catch (error) {
        result.error = (error as Error).message;
        progress(`${engine} ${base.subject} ${base.op} c=${c} FAILED: ${result.error}`);
      } finally {
        await close?.().catch(() => undefined);
      }
      results.push(result);
    }
  }
}

/** The wrapper rows of `engine`: each wrapped case and its unwrapped twin, measured alternately on `store`. */
async function runWrappers(options: BenchOptions, engine: EngineName, store: Store, results: CaseResult[]): Promise<void> {
  for (const wrapper of WRAPPER_CASES) {
    if (!wrapper.engines.includes(engine) || !caseSelected(options, wrapper.subject, wrapper.op)) continue;
    for (const c of concurrenciesOf(options, wrapper.concurrencies)) {
      const row = (subject: string, describe: string, pairedWith: string): CaseResult => ({
        engine,
        subject,
        op: wrapper.op,
        concurrency: c,
        describe,
        pairedWith,
      });
      const twin = unwrappedSubject(wrapper.subject);
      const wrapped = row(wrapper.subject, wrapper.describe, twin);
      const unwrapped = row(twin, `the same case on the same store without the wrapper, in rounds alternating with ${wrapper.subject}`, wrapper.subject);
      try {
        const pair = await measurePair(wrapper, store, c, limitsFor(options, engine, c));
        unwrapped.summary = pair.unwrapped;
        if (pair.problem === undefined) wrapped.summary = pair.wrapped;
        else wrapped.error = pair.problem;
        const ratio = pair.wrapped.opsPerSec / pair.unwrapped.opsPerSec;
        progress(`${engine} ${wrapper.subject} ${wrapper.op} c=${c}: ${Math.round(pair.wrapped.opsPerSec)} ops/s, ${ratio.toFixed(2)}× unwrapped${pair.problem === undefined ? "" : ` FAILED: ${pair.problem}`}`);
      } catch (error) {
        wrapped.error = (error as Error).message;
        progress(`${engine} ${wrapper.subject} ${wrapper.op} c=${c} FAILED: ${wrapped.error}`);
      }
      results.push(wrapped, unwrapped);
    }
  }
}

/** The paired rows of `engine` on `store`, against its baseline cases. */
function runPairs(options: BenchOptions, engine: EngineName, store: Store | (() => Promise<Store>), baselines: readonly BaselineCase[], results: CaseResult[]): Promise<void> {
  return runPaired(engine, store, baselines, (c) => limitsFor(options, engine, c), (subject, op) => caseSelected(options, subject, op), results, progress);
}

/** A networked engine's throwaway server: how to open a store on it, its raw baselines, and how to stop it. */
interface NetworkedServer {
  open(): Promise<Store>;
  /** The store the wake-up measurement's worker process and pusher open (apart from the bench's store). */
  wakeup: OpenStoreOptions;
  baselines: readonly BaselineCase[];
  /** Kills the server, waits until it is dead and removes its folder (synchronous: also run on exit and on a signal). */
  destroy(): void;
}

async function startNetworked(engine: "etcd" | "redis" | "azure-table"): Promise<NetworkedServer> {
  if (engine === "etcd") {
    const server = await startEtcd();
    return {
      open: () => openStore({ backend: "etcd", endpoints: server.endpoint, prefix: "bench/" }),
      wakeup: { backend: "etcd", endpoints: server.endpoint, prefix: "wakeup/" },
      baselines: rawEtcdBaselines(server.endpoint),
      destroy: () => server.destroy(),
    };
  }
  if (engine === "redis") {
    const server = await startRedis();
    return {
      open: () => openStore({ backend: "redis", url: server.url, prefix: "bench:" }),
      wakeup: { backend: "redis", url: server.url, prefix: "wakeup:" },
      baselines: rawRedisBaselines(server.url),
      destroy: () => server.destroy(),
    };
  }
  const server = await startAzurite();
  return {
    open: () => openStore({ backend: "azure-table", connectionString: server.connectionString, table: "bench" }),
    wakeup: { backend: "azure-table", connectionString: server.connectionString, table: "wakeup" },
    baselines: rawAzureTableBaselines(server.connectionString, "bench"),
    destroy: () => server.destroy(),
  };
}

/**
 * A networked engine on a throwaway server of its own, started by the test helpers and stopped when the section
 * ends: stowage's cases, and the paired rows against the raw client on the same server (the raw baselines run only
 * paired, alternating with stowage).
 */
async function runNetworked(options: BenchOptions, engine: "etcd" | "redis" | "azure-table", results: CaseResult[], notes: string[], work: WorkFigures): Promise<void> {
  let server: NetworkedServer | undefined;
  try {
    progress(`starting a throwaway ${engine} server`);
    server = await startNetworked(engine);
    const srv = server;
    finalizers.push(() => srv.destroy());
    await withStore(
      () => srv.open(),
      async (store) => {
        await runStowage(options, engine, store, results);
        await runPairs(options, engine, store, srv.baselines, results);
      },
    );
    await runWakeup(options, engine, srv.wakeup, work);
  } catch (error) {
    notes.push(`${engine} section failed: ${(error as Error).message}`);
    progress(`${engine} FAILED: ${(error as Error).message}`);
  } finally {
    server?.destroy();
  }
}

/** The wake-up latency of `engine` (bench/work-wakeup.ts), when `--case` keeps it; `descriptor` null: in this process. */
async function runWakeup(options: BenchOptions, engine: EngineName, descriptor: OpenStoreOptions | null, work: WorkFigures): Promise<void> {
  if (!caseSelected(options, "work", "wakeup")) return;
  progress(`${engine} work wake-up latency, ${options.wakeupJobs} jobs`);
  const result = await measureWakeup(engine, descriptor, options.wakeupJobs);
  progress(`${engine} wake-up: median ${result.medianMs.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms${result.error === undefined ? "" : ` (${result.error})`}`);
  work.wakeups.push(result);
}

async function withStore<T>(open: () => Promise<Store>, body: (store: Store) => Promise<T>): Promise<T> {
  const store = await open();
  try {
    return await body(store);
  } finally {
    await store.close();
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const started = performance.now();
  const date = new Date();
  const results: CaseResult[] = [];
  const notes: string[] = [];
  let scale: ScaleResults | undefined;
  const work: WorkFigures = { commitSharing: [], wakeups: [] };
  notes.push(
    "Durability: SQLite cases (stowage and baselines) use WAL with synchronous=FULL (stowage durability \"full\"); PostgreSQL runs with fsync=on and synchronous_commit=on (its defaults) on a throwaway local server; memory has no durability.",
    "Values are 100-byte Uint8Arrays. Each case uses its own namespace (or table/file), so cases do not see each other's rows; stores keep their default background TTL sweep.",
    `PostgreSQL: stowage uses its default pool of ${POOL_SIZE} connections and the raw pg / pg-boss baselines a pg.Pool of the same size; concurrency 16 means 16 operations in flight on those 10 connections.`,
    "Values: every timed write stores a fresh 100-byte value with the operation's number in its first bytes. SQLite skips an update whose new row equals the old one (no WAL frame, no fsync), so rewriting one fixed value would time a no-op rather than a durable write; with varying values every SQLite commit at synchronous=FULL pays its fsync (this disk: ~100–150 µs).",
    "Raw better-sqlite3 is synchronous: at c=16 its calls still run one at a time, each its own synced autocommit, so its c=16 figure is the \"one synced autocommit per put\" reference of the 20× target.",
    `Wrapper rows: the wrapped case and the same case on the same store unwrapped run in ${pairRounds(options.limits.runs)} alternating rounds (each one timed run after its own warm-up, the side going first swapped every round, every round writing values no earlier round wrote); the ratio is the median of the rounds' wrapped ÷ unwrapped. The wrapped store sits over the same engine as the unwrapped one.`,
    "Networked engines (etcd, Redis, Azure Table): each on a throwaway server on 127.0.0.1 started by the test helpers (test/helpers/*-server.ts) and stopped when its section ends — etcd 3.4 (one member, fsync on), redis-server with appendonly yes and appendfsync always, azurite's table server (in memory, saved to disk periodically). The raw clients (etcd3, ioredis, @azure/data-tables) use the same server, on keys of their own (etcd, Redis) or partitions of their own in the store's table (Azure: azurite's point reads scan their partition, so the raw rows' smaller partitions flatter them), and run only in paired rows, alternating with stowage; their kv.get cases read among 1,000 keys.",
    `Paired rows (\`stowage ⇄ baseline\`): a stowage case and its raw baseline in the same ${pairRounds(options.limits.runs)} alternating rounds, the ratio being the median of the rounds' ratios; the targets on the read path and the family's commits use these rows.`,
  );
  try {
    for (const engine of options.engines) {
      progress(`engine ${engine}`);
      if (engine === "memory") {
        await withStore(
          () => openStore({ backend: "memory" }),
          async (store) => {
            await runStowage(options, engine, store, results);
            await runWrappers(options, engine, store, results);
            await runPairs(options, engine, store, MEMORY_BASELINES, results);
          },
        );
        await runBaselines(options, engine, MEMORY_BASELINES, results);
        await runWakeup(options, engine, null, work);
      } else if (engine === "sqlite") {
        const dir = makeTempDir("sqlite");
        await withStore(
          () => openStore({ backend: "sqlite", path: join(dir, "bench.db"), durability: "full" }),
          async (store) => {
            await runStowage(options, engine, store, results);
            await runWrappers(options, engine, store, results);
            await runPairs(options, engine, store, RAW_SQLITE_BASELINES, results);
            if (caseSelected(options, STOWAGE, "work.cycle")) {
              work.commitSharing = await measureCommitSharing(store, join(dir, "bench.db"), (c) => limitsFor(options, engine, c), [1, WORK_CONCURRENCY]);
              for (const s of work.commitSharing) progress(`sqlite ${s.op} c=${s.concurrency}: ${s.writes} write calls in ${s.commits} commits`);
            }
          },
        );
        await runWakeup(options, engine, { backend: "sqlite", path: join(dir, "wakeup.db"), durability: "full" }, work);
        await runBaselines(options, engine, RAW_SQLITE_BASELINES, results);
        const keyvMissing = await keyvUnavailable();
        if (keyvMissing === undefined) {
          await runBaselines(options, engine, KEYV_BASELINES, results);
          notes.push(
            "Keyv baseline: keyv 5.x with @keyv/sqlite 4.x (keyv 6 needs Node ≥ 22.19); its sqlite3 native module was built from source (the prebuilt download from GitHub is not reachable here). Switched to WAL + synchronous=FULL by PRAGMA on its single connection; values go through Keyv's JSON serialisation.",
          );
        } else notes.push(`Keyv + @keyv/sqlite baseline left out: ${keyvMissing}`);
      } else if (engine === "lmdb" || engine === "leveldb") {
        const dir = makeTempDir(engine);
        await withStore(
          () => openStore({ backend: engine, path: join(dir, `bench.${engine}`) }),
          async (store) => {
            await runStowage(options, engine, store, results);
            await runWrappers(options, engine, store, results);
          },
        );
        // Each pair on a database of its own, as each raw baseline starts from an empty one: on the shared store an
        // LSM tree holding every earlier case's files compacts during the timed puts (LevelDB put at c=16 measured
        // 0.69× there and 1.13× alone on 2026-12-03).
        let pairs = 0;
        const openPairStore = () => openStore({ backend: engine, path: join(dir, `pair-${++pairs}.${engine}`) });
        await runPairs(options, engine, openPairStore, engine === "lmdb" ? RAW_LMDB_BASELINES : RAW_LEVELDB_BASELINES, results);
        await runBaselines(options, engine, engine === "lmdb" ? RAW_LMDB_BASELINES : RAW_LEVELDB_BASELINES, results);
        // LevelDB allows one process per store (supports.crossProcess false): no worker in another process to wake.
        if (engine === "lmdb") await runWakeup(options, engine, { backend: "lmdb", path: join(dir, "wakeup.lmdb") }, work);
      } else if (engine === "etcd" || engine === "redis" || engine === "azure-table") {
        await runNetworked(options, engine, results, notes, work);
      } else {
        let server: PostgresServer | undefined;
        try {
          progress("starting a throwaway PostgreSQL server");
          server = await startPostgres();
          const srv = server;
          finalizers.push(() => srv.destroy());
          const bossMissing = await pgBossUnavailable();
          // The work rows' baselines run only paired, in rounds alternating with stowage.
          const pairedBaselines = [...rawPgBaselines(srv.dsn), ...rawPgWorkBaselines(srv.dsn), ...(bossMissing === undefined ? pgBossWorkBaselines(srv.dsn) : [])];
          await withStore(
            () => openStore({ backend: "postgres", dsn: srv.dsn, schema: "bench_stowage" }),
            async (store) => {
              await runStowage(options, engine, store, results);
              await runWrappers(options, engine, store, results);
              await runPairs(options, engine, store, pairedBaselines, results);
            },
          );
          await runBaselines(options, engine, rawPgBaselines(srv.dsn), results);
          await runWakeup(options, engine, { backend: "postgres", dsn: srv.dsn, schema: "bench_wakeup" }, work);
          if (bossMissing === undefined) {
            const boss = pgBossPackage();
            work.pgBoss = boss;
            notes.push(
              `pg-boss version (the repo's devDependency, read from pg-boss/package.json at run time): ${boss.version}, engines.node ${boss.node}. Work rows: pg-boss ${boss.version} send (b=1) or insert of 16 jobs (b=16), fetch(name, { batchSize: jobs still needed }), complete(name, ids); stowage push / pushMany(16), claim({ limit: jobs still needed }), ack / ackMany; raw SKIP LOCKED the same three steps as statements. Each operation completes the jobs it pushed, on one queue shared by its 16 workers.`,
            );
            await runBaselines(options, engine, pgBossBaselines(srv.dsn), results);
            notes.push(
              "pg-boss baseline: pg-boss 10.x (pg-boss 11+ needs Node ≥ 22), with maintenance (supervise) and cron scheduling off; the job payload is the 100-byte value as base64 JSON. Stowage's queue.cycle pushes, peeks one item and acks it; pg-boss's sends, fetches one job and completes it.",
            );
          } else notes.push(`pg-boss baseline left out: ${bossMissing}`);
        } catch (error) {
          notes.push(`PostgreSQL section failed: ${(error as Error).message}`);
          progress(`postgres FAILED: ${(error as Error).message}`);
        } finally {
          server?.destroy();
        }
      }
    }
    // `--case` picks cases: the scale section is not one of them.
    const scaleEngines = options.casePatterns.length > 0 ? [] : options.engines.filter((e): e is ScaleEngine => (SCALE_ENGINES as readonly string[]).includes(e));
    if (scaleEngines.length > 0) scale = await runScale(scaleEngines, options.scaleSizes, options.scaleLimits, progress);
  } finally {
    finalize();
  }
  if ((globalThis as { gc?: unknown }).gc === undefined) notes.push("node ran without --expose-gc; run through `npm run bench` for the memory footprint figures.");
  const l = options.limits;
  const report = renderReport({
    date,
    mode: `${options.quick ? "--quick (smoke run: too short for conclusions)" : "full"}${options.casePatterns.length > 0 ? `, only the cases matching ${options.casePatterns.join(", ")}` : ""}`,
    engines: options.engines,
    limitsNote: `per case ${l.runs} runs of ≤ ${l.maxOps.toLocaleString("en-US")} ops (≤ ${options.postgresMaxOps.toLocaleString("en-US")} on PostgreSQL, ≤ ${options.memoryMaxOps.toLocaleString("en-US")} in memory) and ≤ ${l.timeCapMs} ms each, after a warm-up of ≤ ${l.warmupOps} ops / ${l.warmupCapMs} ms; concurrency ${options.concurrencies.join(" and ")}`,
    wallSeconds: (performance.now() - started) / 1000,
    cases: results,
    scale,
    notes,
    work,
  });
  mkdirSync(options.resultsDir, { recursive: true });
  const day = date.toISOString().slice(0, 10);
  writeFileSync(join(options.resultsDir, `${day}.md`), report);
  writeFileSync(join(options.resultsDir, "latest.md"), report);
  process.stdout.write(report);
  progress(`wrote ${join(options.resultsDir, `${day}.md`)} and latest.md`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    finalize();
    process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
