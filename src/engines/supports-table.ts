import type { EngineSupports } from "./engine.js";

/** An engine as its row of the table: its name and its manifest. */
export interface EngineRow {
  readonly name: string;
  readonly supports: EngineSupports;
  /** Set on an engine over other providers (a composite): its manifest is theirs, so it has no row. */
  readonly combinesProviders?: boolean;
}

const yesNo = (supported: boolean): string => (supported ? "yes" : "no");
const count = (n: number): string => n.toLocaleString("en-US");

/** Bytes in the largest whole unit: "1 MiB", "16 KiB", "1,978 B". */
function bytes(n: number): string {
  if (n % 1_048_576 === 0) return `${count(n / 1_048_576)} MiB`;
  if (n % 1024 === 0 && n >= 16 * 1024) return `${count(n / 1024)} KiB`;
  return `${count(n)} B`;
}

/**
 * The README's engine table, generated from the engines' manifests so that it cannot drift from them (a test
 * compares the two). One row per engine: its capabilities, then its size limits.
 */
export function engineSupportTable(engines: readonly EngineRow[]): string {
  const header = ["engine", "live feeds", "KV history (`kv.watch`)", "several processes", "transactions across namespaces", "work queues", "key", "value", "writes / transaction", "bytes / transaction"];
  const rows = engines.filter((engine) => engine.combinesProviders !== true).map(({ name, supports: s }) => [
    `\`${name}\``,
    yesNo(s.liveFeeds),
    yesNo(s.kvHistory),
    yesNo(s.crossProcess),
    yesNo(s.crossNamespaceTransactions),
    yesNo(s.workQueues),
    bytes(s.limits.maxKeyBytes),
    bytes(s.limits.maxValueBytes),
    count(s.limits.maxTransactionWrites),
    bytes(s.limits.maxTransactionBytes),
  ]);
  return [header, header.map(() => "---"), ...rows].map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}
