/** Command-line options of the benchmark and the limits they imply. */
import type { RunLimits } from "./harness.js";

export const ENGINES = ["memory", "sqlite", "postgres", "lmdb", "leveldb", "etcd", "redis", "azure-table"] as const;
export type EngineName = (typeof ENGINES)[number];
/** The engines on a server of their own (a throwaway one the bench starts), each operation a network round trip. */
export const NETWORKED_ENGINES: readonly EngineName[] = ["etcd", "redis", "azure-table"];

export interface BenchOptions {
  quick: boolean;
  engines: EngineName[];
  /** Limits of a primitive case, before the per-engine operation cap and the concurrency are applied. */
  limits: Omit<RunLimits, "concurrency">;
  /** Most operations per run on PostgreSQL and the networked engines (slower, and acks need that many items queued beforehand). */
  postgresMaxOps: number;
  /** Most operations per run on the memory engine: at ~10^6 ops/s the default count would be a 20 ms run, too short to average out GC pauses. */
  memoryMaxOps: number;
  concurrencies: number[];
  /** Keys already stored in the scale section. */
  scaleSizes: number[];
  /** Limits of the scale measurements. */
  scaleLimits: Omit<RunLimits, "concurrency">;
  /** Where results go. */
  resultsDir: string;
  /** Jobs each engine's wake-up latency measurement pushes (bench/work-wakeup.ts). */
  wakeupJobs: number;
  /**
   * `--case a,b`: only the cases whose subject or op contains one of these (case-insensitive), and no scale section;
   * empty: every case.
   */
  casePatterns: string[];
}

/** Whether `--case` keeps the case of `subject` and `op`. */
export function caseSelected(options: BenchOptions, subject: string, op: string): boolean {
  if (options.casePatterns.length === 0) return true;
  const name = `${subject} ${op}`.toLowerCase();
  return options.casePatterns.some((pattern) => name.includes(pattern));
}

const USAGE = "usage: node --expose-gc dist/bench/main.js [--quick] [--only memory,sqlite,postgres,lmdb,leveldb,etcd,redis,azure-table] [--case PATTERN,…] [--out DIR]";

export function parseOptions(argv: readonly string[]): BenchOptions {
  let quick = false;
  let engines: EngineName[] = [...ENGINES];
  let resultsDir = "bench/results";
  let casePatterns: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--quick") quick = true;
    else if (arg === "--only" || arg.startsWith("--only=")) {
      const value = arg === "--only" ? argv[++i] : arg.slice("--only=".length);
      if (value === undefined || value === "") throw new Error(`--only needs a list of engines\n${USAGE}`);
      const picked = value.split(",").map((s) => s.trim()).filter((s) => s !== "");
      for (const name of picked) {
        if (!(ENGINES as readonly string[]).includes(name)) throw new Error(`unknown engine "${name}" (one of ${ENGINES.join(", ")})\n${USAGE}`);
      }
      engines = ENGINES.filter((e) => picked.includes(e));
    } else if (arg === "--case" || arg.startsWith("--case=")) {
      const value = arg === "--case" ? argv[++i] : arg.slice("--case=".length);
      if (value === undefined || value === "") throw new Error(`--case needs a list of patterns\n${USAGE}`);
      casePatterns = value.split(",").map((s) => s.trim().toLowerCase()).filter((s) => s !== "");
    } else if (arg === "--out") {
      const value = argv[++i];
      if (value === undefined) throw new Error(`--out needs a folder\n${USAGE}`);
      resultsDir = value;
    } else if (arg === "--help" || arg === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown option ${arg}\n${USAGE}`);
  }
  return quick
    ? {
        quick,
        engines,
        limits: { maxOps: 1_000, timeCapMs: 200, warmupOps: 50, warmupCapMs: 100, runs: 3 },
        postgresMaxOps: 300,
        memoryMaxOps: 5_000,
        concurrencies: [1, 16],
        scaleSizes: [1_000, 10_000],
        scaleLimits: { maxOps: 500, timeCapMs: 200, warmupOps: 50, warmupCapMs: 100, runs: 3 },
        resultsDir,
        wakeupJobs: 60,
        casePatterns,
      }
    : {
        quick,
        engines,
        limits: { maxOps: 20_000, timeCapMs: 1_000, warmupOps: 500, warmupCapMs: 300, runs: 3 },
        postgresMaxOps: 5_000,
        memoryMaxOps: 200_000,
        concurrencies: [1, 16],
        scaleSizes: [1_000, 100_000, 1_000_000],
        scaleLimits: { maxOps: 10_000, timeCapMs: 700, warmupOps: 200, warmupCapMs: 200, runs: 3 },
        resultsDir,
        wakeupJobs: 200,
        casePatterns,
      };
}
