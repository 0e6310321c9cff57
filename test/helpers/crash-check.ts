/**
 * What the crash tests check after each kill: every operation the killed process reported is in the reopened store,
 * every operation it may have started but did not report is wholly present or wholly absent (a transaction's four
 * writes together), nothing is applied twice, log sequences are gap-free, queue lengths match their items, and a
 * lost CAS never wrote. Shared by the crash fixture (names and keys) and the tests (the checks).
 */
import type { Log, LogEntry, Store } from "../../src/index.js";
import { utf8 } from "../../src/index.js";

/** The namespaces the crash workload writes. */
export const CRASH_NS = { kv: "c-kv", log: "c-log", slot: "c-slot", queue: "c-queue", tx: "c-tx" } as const;

/** Operation numbers of round r start at r * ROUND_STRIDE. */
export const ROUND_STRIDE = 1_000_000;
export const SLOT_KEYS = 5;

/** The keys operation n writes: per-round log and queue keys keep every read of a round small. */
export function crashKeys(n: number) {
  const round = Math.floor(n / ROUND_STRIDE);
  return {
    kv: `kv-${n}`,
    ttl: `ttl-${n}`,
    log: `log-${round}-${n % 3}`,
    slot: `slot-${n % SLOT_KEYS}`,
    queue: `q-${round}-${n % 2}`,
    txKeys: [`a-${n}`, `b-${n}`],
    tx: `t-${round}`,
  };
}

/** One line the crash fixture prints once a step resolved. */
export type CrashReport =
  | { n: number; type: "kv" | "ttl" }
  | { n: number; type: "log"; seq: number }
  | { n: number; type: "cas"; version: number | null }
  | { n: number; type: "push" | "ack"; id: number }
  | { n: number; type: "tx"; seq: number; id: number }
  /** A tolerant worker's failed operation: it may or may not have been applied (a lost connection at commit). */
  | { n: number; type: "failed"; code: string; ms: number };

/** The reports of a killed child: its JSON lines (a kill can only cut a line that was never written whole). */
export function parseReports(lines: readonly string[]): CrashReport[] {
  const reports: CrashReport[] = [];
  for (const line of lines) {
    if (!line.startsWith("{")) continue;
    try {
      reports.push(JSON.parse(line) as CrashReport);
    } catch {
      // a torn last line: not a report
    }
  }
  return reports;
}

/** Everything reported so far, across rounds: what a later check must still find. */
export class CrashLedger {
  readonly byN = new Map<number, CrashReport[]>();
  /** Per slot key, the versions reported won, each by exactly one operation. */
  readonly casWins = new Map<string, Map<number, number>>();
  rounds = 0;

  add(reports: readonly CrashReport[]): string[] {
    const problems: string[] = [];
    for (const report of reports) {
      const list = this.byN.get(report.n) ?? [];
      list.push(report);
      this.byN.set(report.n, list);
      if (report.type === "cas" && report.version !== null) {
        const key = crashKeys(report.n).slot;
        const wins = this.casWins.get(key) ?? new Map<number, number>();
        const other = wins.get(report.version);
        if (other !== undefined) problems.push(`${key}: version ${report.version} won by both op ${other} and op ${report.n}`);
        wins.set(report.version, report.n);
        this.casWins.set(key, wins);
      }
    }
    return problems;
  }
}

const valueN = (value: string): number => Number(value.slice(2));

/**
 * Checks round `round` (operations from `first`; at most `started` of them can have begun) and the store-wide rules.
 * Returns the problems found, [] when none.
 */
export async function checkRound(store: Store, ledger: CrashLedger, round: number, first: number, started: number): Promise<string[]> {
  const problems: string[] = [];
  const kv = store.kv(CRASH_NS.kv, { codec: utf8 });
  const log = store.log(CRASH_NS.log, { codec: utf8 });
  const queue = store.queue(CRASH_NS.queue, { codec: utf8 });
  const txKv = store.kv(CRASH_NS.tx, { codec: utf8 });
  const txLog = store.log(CRASH_NS.tx, { codec: utf8 });
  const txQueue = store.queue(CRASH_NS.tx, { codec: utf8 });
  const keys = crashKeys(first);

  // What the round's log and queue keys hold, by the operation that wrote each entry.
  const logEntries = new Map<number, number[]>();
  for (let k = 0; k < 3; k++) {
    for (const entry of await readAll(log, `log-${round}-${k}`)) push(logEntries, valueN(entry.value), entry.seq);
  }
  const queueItems = new Map<number, number[]>();
  for (let k = 0; k < 2; k++) {
    const key = `q-${round}-${k}`;
    const items = await queue.peek(key, 10_000);
    if ((await queue.len(key)) !== items.length) problems.push(`queue ${key}: len ${await queue.len(key)} but ${items.length} items`);
    for (const item of items) push(queueItems, valueN(item.value), item.id);
  }
  const txEntries = new Map<number, number[]>();
  for (const entry of await readAll(txLog, keys.tx)) push(txEntries, valueN(entry.value), entry.seq);
  const txItems = new Map<number, number[]>();
  const txQueued = await txQueue.peek(keys.tx, 10_000);
  if ((await txQueue.len(keys.tx)) !== txQueued.length) problems.push(`tx queue ${keys.tx}: len differs from its items`);
  for (const item of txQueued) push(txItems, valueN(item.value), item.id);
  for (const [what, map] of [["log", logEntries], ["queue", queueItems], ["tx log", txEntries], ["tx queue", txItems]] as const) {
    for (const [n, list] of map) if (list.length > 1) problems.push(`op ${n}: ${list.length} ${what} entries (applied twice)`);
  }

  for (let n = first; n < first + started; n++) {
    const reports = ledger.byN.get(n) ?? [];
    const reported = (type: CrashReport["type"]) => reports.find((r) => r.type === type);
    const value = `v-${n}`;
    const k = crashKeys(n);
    const say = (what: string) => problems.push(`op ${n} (${["kv", "ttl", "log", "cas", "push", "tx"][n % 6]}): ${what}`);
    switch (n % 6) {
      case 0:
      case 1: {
        const found = await kv.get(n % 6 === 0 ? k.kv : k.ttl);
        if (found !== undefined && found !== value) say(`holds ${found}`);
        if (reported(n % 6 === 0 ? "kv" : "ttl") !== undefined && found === undefined) say("reported but missing");
        break;
      }
      case 2: {
        const seqs = logEntries.get(n) ?? [];
        const report = reported("log") as { seq: number } | undefined;
        if (report !== undefined && seqs[0] !== report.seq) say(`reported seq ${report.seq}, stored ${JSON.stringify(seqs)}`);
        break;
      }
      case 4: {
        const ids = queueItems.get(n) ?? [];
        const pushed = reported("push") as { id: number } | undefined;
        const acked = reported("ack") !== undefined;
        if (acked && ids.length > 0) say("acked but still queued");
        else if (pushed !== undefined && ids.length > 0 && ids[0] !== pushed.id) say(`pushed as ${pushed.id}, stored as ${JSON.stringify(ids)}`);
        // Without a reported ack the item must be there, unless its ack was under way (n % 12 == 4) when the kill came.
        else if (pushed !== undefined && ids.length === 0 && !acked && n % 12 !== 4) say(`pushed as ${pushed.id} but missing`);
        break;
      }
      case 5: {
        const parts = [
          (await txKv.get(k.txKeys[0] as string)) === value,
          (await txKv.get(k.txKeys[1] as string)) === value,
          (txEntries.get(n) ?? []).length === 1,
          (txItems.get(n) ?? []).length === 1,
        ];
        const report = reported("tx") as { seq: number; id: number } | undefined;
        if (report !== undefined && !parts.every(Boolean)) say(`reported but partly missing: ${JSON.stringify(parts)}`);
        if (report !== undefined && (txEntries.get(n)?.[0] !== report.seq || txItems.get(n)?.[0] !== report.id)) say("stored under other numbers than reported");
        if (parts.some(Boolean) && !parts.every(Boolean)) say(`half applied: ${JSON.stringify(parts)}`);
        break;
      }
    }
  }

  // Slots: the stored value was written by a CAS that won this very version, or by one never reported.
  const slot = store.slot(CRASH_NS.slot, { codec: utf8 });
  for (let s = 0; s < SLOT_KEYS; s++) {
    const key = `slot-${s}`;
    const current = await slot.get(key);
    const wins = ledger.casWins.get(key) ?? new Map<number, number>();
    const highest = Math.max(0, ...wins.keys());
    if ((current?.version ?? 0) < highest) problems.push(`${key}: version ${current?.version ?? 0} below the reported win ${highest}`);
    if (current === undefined) continue;
    const writer = valueN(current.value);
    const writerReport = ledger.byN.get(writer)?.find((r) => r.type === "cas") as { version: number | null } | undefined;
    if (writerReport !== undefined && writerReport.version !== current.version) {
      problems.push(`${key}: holds op ${writer}'s value at version ${current.version}, but op ${writer} reported ${writerReport.version === null ? "a lost CAS" : `version ${writerReport.version}`}`);
    }
    const winner = wins.get(current.version);
    if (winner !== undefined && winner !== writer) problems.push(`${key}: version ${current.version} was reported won by op ${winner} but holds op ${writer}'s value`);
  }

  // Logs: every namespace's sequences are exactly 1..lastSeq.
  for (const [ns, logKeys] of [
    [log, Array.from({ length: round + 1 }, (_, r) => [0, 1, 2].map((k) => `log-${r}-${k}`)).flat()],
    [txLog, Array.from({ length: round + 1 }, (_, r) => `t-${r}`)],
  ] as const) {
    let count = 0;
    let max = 0;
    for (const key of logKeys) {
      for (const entry of await readAll(ns, key)) {
        count++;
        max = Math.max(max, entry.seq);
      }
    }
    const last = await ns.lastSeq();
    if (count !== last || max !== last) problems.push(`log ${ns.namespace}: ${count} entries, highest seq ${max}, lastSeq ${last}: not gap-free`);
  }
  return problems;
}

function push(map: Map<number, number[]>, key: number, value: number): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

/** Every entry of `key`, page by page. */
async function readAll(log: Log<string>, key: string): Promise<Array<LogEntry<string>>> {
  const entries: Array<LogEntry<string>> = [];
  let after = 0;
  for (;;) {
    const page = await log.since(key, after, { limit: 10_000 });
    entries.push(...page);
    if (page.length < 10_000) return entries;
    after = (page[page.length - 1] as LogEntry<string>).seq;
  }
}

