/**
 * A transactional consistency checker for list-append histories, after Jepsen's Elle (Kingsbury & Alvaro, "Elle:
 * inferring isolation anomalies from experimental observations", VLDB 2020). Engine-independent: it reads a
 * {@link Txn} history and nothing else.
 *
 * Method.
 * 1. Every append writes an element unique to its key, so each element names the one call (and transaction) that
 *    wrote it, and a read of a key — a list — shows the order in which the appends it contains were applied.
 * 2. Per key, the version order is the longest list any committed transaction read. Every other read must be a
 *    prefix of it; one that is not is an `incompatible-order` anomaly (two readers saw histories no single order of
 *    appends explains — a lost update on a read-modify-write value looks like this). Reads must also hold no
 *    element twice (`duplicate-element`), nothing no one appended (`garbage-read`), and, within one transaction,
 *    agree with what it read and appended before (`internal`).
 * 3. Reads of writes that cannot have committed are named at once: an element whose append or transaction certainly
 *    failed (`G1a`, aborted read), and a read ending in an element that its writer followed with a later append to
 *    the same key (`G1b`, intermediate read). A committed append missing from a read that started after its
 *    transaction completed, and absent from the version order, is a `lost-write` (a transaction that resolved but
 *    whose write never took effect).
 * 4. The dependency graph has a node per committed transaction (plain calls are one-operation transactions), plus
 *    each transaction of unknown outcome whose writes someone observed (it committed, then; its reads are not used,
 *    and it gets no edge from its completion time, which is unknown). Edges: `ww` writer of version i to writer of
 *    version i + 1; `wr` writer of the last element a transaction read to the reader; `rw` reader to the writer of
 *    the element that followed what it read (the anti-dependency); `rt` T1 to T2 when T1 completed before T2 was
 *    invoked, on one clock (real-time order, which includes each client's own order: strict serializability). Only
 *    the transitive reduction of real time is added: T1 → T2 for the T1 that no later-completed predecessor of T2
 *    dominates.
 * 5. Any cycle is an anomaly, named by the weakest edges it needs (Adya's classes): `G0` ww only, `G1c` ww and wr,
 *    `G-single` exactly one rw, `G2` several rw; the same with `-realtime` when it needs a real-time edge (the history
 *    is serializable but not strictly serializable). Cycles are searched in the strongly connected components of
 *    the graph restricted to each class's edges, strongest class first, and each is reported once, with its
 *    transactions and edges.
 * Transactions of unknown outcome are treated soundly: their writes may or may not be visible, so they never make a
 * G1a and are never required to appear.
 */
import type { AppendOp, Outcome, ReadOp, Txn } from "./history.js";

/** One anomaly: its name, the transactions involved, and a one-line explanation. */
export interface Anomaly {
  name: string;
  txns: string[];
  detail: string;
}

/** What the checker found, with the figures of the history. */
export interface CheckReport {
  txns: number;
  committed: number;
  aborted: number;
  unknown: number;
  /** Edges of the dependency graph by kind. */
  edges: { ww: number; wr: number; rw: number; rt: number };
  anomalies: Anomaly[];
  /** Anomalies per name (all of them, also those past the report cap). */
  counts: Record<string, number>;
}

/** Anomalies listed per name at most; `counts` has them all. */
const MAX_REPORTED_PER_NAME = 5;
/** rw edges tried as the one anti-dependency of a G-single cycle, per class search. */
const MAX_SINGLE_RW_TRIES = 2_000;

const WW = 1;
const WR = 2;
const RW = 4;
const RT = 8;
const EDGE_NAMES: Record<number, string> = { [WW]: "ww", [WR]: "wr", [RW]: "rw", [RT]: "rt" };

interface Writer {
  txn: number;
  /** Index of the append in its transaction's ops. */
  at: number;
  op: AppendOp;
}

/** Checks a list-append history (see the module comment for the method). */
export function checkHistory(history: readonly Txn[]): CheckReport {
  const found = new Findings();
  const writers = indexWriters(history, found);
  const readsByKey = collectReads(history);
  checkInternal(history, found);
  const orders = versionOrders(history, readsByKey, writers, found);
  checkFailedAndIntermediateReads(history, writers, found);
  checkLostWrites(history, readsByKey, orders, found);
  const graph = buildGraph(history, readsByKey, orders, writers);
  findCycles(history, graph, found);
  const count = (outcome: Outcome) => history.filter((t) => t.outcome === outcome).length;
  return {
    txns: history.length,
    committed: count("ok"),
    aborted: count("fail"),
    unknown: count("info"),
    edges: graph.edgeCounts,
    anomalies: found.list,
    counts: found.counts,
  };
}

/** One line per anomaly name with its count and first instances, for assertion messages. */
export function describeAnomalies(report: CheckReport): string {
  return report.anomalies.map((a) => `${a.name} [${a.txns.join(", ")}]: ${a.detail}`).join("\n");
}

/** The figures of a report, for test diagnostics. */
export function describeFigures(report: CheckReport): string {
  const e = report.edges;
  const counts = Object.entries(report.counts).map(([name, n]) => `${name} ${n}`).join(", ") || "none";
  return `${report.txns} transactions (${report.committed} committed, ${report.aborted} aborted, ${report.unknown} unknown); edges ww ${e.ww}, wr ${e.wr}, rw ${e.rw}, rt ${e.rt}; anomalies: ${counts}`;
}

class Findings {
  readonly list: Anomaly[] = [];
  readonly counts: Record<string, number> = {};

  add(name: string, txns: string[], detail: string): void {
    this.counts[name] = (this.counts[name] ?? 0) + 1;
    if (this.counts[name] <= MAX_REPORTED_PER_NAME) this.list.push({ name, txns, detail });
  }
}

/** A set whose `add` says whether the value is new. */
class OnceSet {
  private readonly seen = new Set<string>();

  add(value: string): boolean {
    if (this.seen.has(value)) return false;
    this.seen.add(value);
    return true;
  }
}

const reads = (txn: Txn): ReadOp[] => txn.ops.filter((op): op is ReadOp => op.f === "r");
const show = (list: readonly string[]) => `[${list.join(" ")}]`;

/** Each element's writer; an element appended twice is itself an anomaly (the workload never does it). */
function indexWriters(history: readonly Txn[], found: Findings): Map<string, Writer> {
  const writers = new Map<string, Writer>();
  history.forEach((txn, index) =>
    txn.ops.forEach((op, at) => {
      if (op.f !== "a") return;
      const id = `${op.key}\u0000${op.value}`;
      const earlier = writers.get(id);
      if (earlier !== undefined) found.add("duplicate-append", [(history[earlier.txn] as Txn).id, txn.id], `${op.value} appended twice to ${op.key}`);
      else writers.set(id, { txn: index, at, op });
    }),
  );
  return writers;
}

const writerOf = (writers: Map<string, Writer>, key: string, element: string) => writers.get(`${key}\u0000${element}`);

/** The reads of committed transactions, per key, with their transaction's index. */
function collectReads(history: readonly Txn[]): Map<string, Array<{ txn: number; value: string[] }>> {
  const byKey = new Map<string, Array<{ txn: number; value: string[] }>>();
  history.forEach((txn, index) => {
    if (txn.outcome !== "ok") return;
    for (const op of reads(txn)) {
      let list = byKey.get(op.key);
      if (list === undefined) byKey.set(op.key, (list = []));
      list.push({ txn: index, value: op.value });
    }
  });
  return byKey;
}

/** Within a committed transaction, each read equals its previous read of the key plus its own appends since. */
function checkInternal(history: readonly Txn[], found: Findings): void {
  for (const txn of history) {
    if (txn.outcome !== "ok") continue;
    // Per key: the last list read (null: none yet), the own appends since, and whether one of them had an unknown outcome.
    const state = new Map<string, { seen: string[] | null; own: string[]; unsure: boolean }>();
    for (const op of txn.ops) {
      const s = state.get(op.key) ?? { seen: null, own: [], unsure: false };
      state.set(op.key, s);
      if (op.f === "a") {
        if (op.outcome === "ok") s.own.push(op.value);
        if (op.outcome === "info") s.unsure = true;
        continue;
      }
      if (!s.unsure) {
        const expected = s.seen === null ? null : [...s.seen, ...s.own];
        const tail = op.value.slice(op.value.length - s.own.length);
        const fine = expected === null ? s.own.length <= op.value.length && tail.every((v, i) => v === s.own[i]) : show(expected) === show(op.value);
        if (!fine) {
          found.add("internal", [txn.id], `read ${show(op.value)} of ${op.key} after reading ${s.seen === null ? "nothing" : show(s.seen)} and appending ${show(s.own)}`);
        }
      }
      state.set(op.key, { seen: op.value, own: [], unsure: false });
    }
  }
}

/** Per key, the longest committed read; every read must be a prefix of it and name only appended elements, once. */
function versionOrders(
  history: readonly Txn[],
  readsByKey: Map<string, Array<{ txn: number; value: string[] }>>,
  writers: Map<string, Writer>,
  found: Findings,
): Map<string, string[]> {
  const orders = new Map<string, string[]>();
  for (const [key, list] of readsByKey) {
    let longest = list[0] as { txn: number; value: string[] };
    for (const read of list) if (read.value.length > longest.value.length) longest = read;
    orders.set(key, longest.value);
    for (const read of list) {
      const txn = (history[read.txn] as Txn).id;
      if (new Set(read.value).size !== read.value.length) found.add("duplicate-element", [txn], `read ${show(read.value)} of ${key} holds an element twice`);
      const garbage = read.value.filter((element) => writerOf(writers, key, element) === undefined);
      if (garbage.length > 0) found.add("garbage-read", [txn], `read ${garbage.join(" ")} from ${key}, which no one appended`);
      if (!read.value.every((element, i) => longest.value[i] === element)) {
        found.add(
          "incompatible-order",
          [txn, (history[longest.txn] as Txn).id],
          `${key}: ${txn} read ${show(read.value)}, not a prefix of ${show(longest.value)} read by ${(history[longest.txn] as Txn).id}`,
        );
      }
    }
  }
  return orders;
}

/** G1a: a read of an element whose append or transaction certainly failed. G1b: a read ending in a non-final append. */
function checkFailedAndIntermediateReads(history: readonly Txn[], writers: Map<string, Writer>, found: Findings): void {
  // One G1a per reader and failed writer, however many of its elements the reader saw.
  const failedPairs = new OnceSet();
  history.forEach((txn, index) => {
    if (txn.outcome !== "ok") return;
    for (const op of reads(txn)) {
      for (const element of op.value) {
        const writer = writerOf(writers, op.key, element);
        if (writer === undefined) continue;
        const writerTxn = history[writer.txn] as Txn;
        const failed = writerTxn.outcome === "fail" || writer.op.outcome === "fail";
        if (!failed) continue;
        if (!failedPairs.add(`${index}>${writer.txn}`)) continue;
        const why = writerTxn.outcome === "fail" ? "whose transaction failed" : "whose call failed";
        // A transaction reading its own failed call's write breaks its own view: reported as internal.
        found.add(writer.txn === index ? "internal" : "G1a", [txn.id, writerTxn.id], `${txn.id} read ${element} of ${op.key}, appended by ${writerTxn.id} ${why}`);
      }
      const last = op.value.at(-1);
      if (last === undefined) continue;
      const writer = writerOf(writers, op.key, last);
      if (writer === undefined || writer.txn === index) continue;
      const writerTxn = history[writer.txn] as Txn;
      const later = writerTxn.ops.slice(writer.at + 1).find((o): o is AppendOp => o.f === "a" && o.key === op.key && o.outcome === "ok");
      if (later !== undefined && writerTxn.outcome !== "fail") {
        found.add("G1b", [txn.id, writerTxn.id], `${txn.id} read ${op.key} ending in ${last}, an intermediate state of ${writerTxn.id} (which then appended ${later.value})`);
      }
    }
  });
}

/** A committed append not in its key's version order, though a read of that key started after it completed. */
function checkLostWrites(
  history: readonly Txn[],
  readsByKey: Map<string, Array<{ txn: number; value: string[] }>>,
  orders: Map<string, string[]>,
  found: Findings,
): void {
  for (const txn of history) {
    if (txn.outcome !== "ok" || txn.end === null) continue;
    const end = txn.end;
    for (const op of txn.ops) {
      if (op.f !== "a" || op.outcome !== "ok" || orders.get(op.key)?.includes(op.value) === true) continue;
      const later = (readsByKey.get(op.key) ?? []).find((read) => (history[read.txn] as Txn).start > end);
      if (later === undefined) continue;
      const reader = history[later.txn] as Txn;
      const caught = txn.caught === undefined ? "" : ` (its body caught ${txn.caught.join(", ")})`;
      found.add("lost-write", [txn.id, reader.id], `${txn.id} resolved${caught}, its append of ${op.value} to ${op.key} with it, but ${reader.id}, started after, read ${show(later.value)}, and no read holds it`);
    }
  }
}

interface Graph {
  /** node → successor → edge kinds (bit mask). */
  out: Map<number, Map<number, number>>;
  edgeCounts: { ww: number; wr: number; rw: number; rt: number };
}

function buildGraph(
  history: readonly Txn[],
  readsByKey: Map<string, Array<{ txn: number; value: string[] }>>,
  orders: Map<string, string[]>,
  writers: Map<string, Writer>,
): Graph {
  const graph: Graph = { out: new Map(), edgeCounts: { ww: 0, wr: 0, rw: 0, rt: 0 } };
  // Nodes: committed transactions, and unknown ones whose writes were observed (so they did commit).
  const observed = new Set<number>();
  for (const [key, order] of orders) for (const element of order) {
    const w = writerOf(writers, key, element);
    if (w !== undefined && (history[w.txn] as Txn).outcome === "info") observed.add(w.txn);
  }
  const isNode = (i: number) => (history[i] as Txn).outcome === "ok" || observed.has(i);
  const add = (from: number, to: number, kind: number) => {
    if (from === to || !isNode(from) || !isNode(to)) return;
    let succ = graph.out.get(from);
    if (succ === undefined) graph.out.set(from, (succ = new Map()));
    const had = succ.get(to) ?? 0;
    if ((had & kind) !== 0) return;
    succ.set(to, had | kind);
    graph.edgeCounts[EDGE_NAMES[kind] as "ww"] += 1;
  };
  const writerTxn = (key: string, element: string | undefined) => (element === undefined ? undefined : writerOf(writers, key, element)?.txn);

  for (const [key, order] of orders) {
    for (let i = 0; i + 1 < order.length; i++) {
      const a = writerTxn(key, order[i]);
      const b = writerTxn(key, order[i + 1]);
      if (a !== undefined && b !== undefined) add(a, b, WW);
    }
    for (const read of readsByKey.get(key) ?? []) {
      // A read that is not a prefix of the order has no place in it (reported already).
      if (!read.value.every((element, i) => order[i] === element)) continue;
      const source = writerTxn(key, read.value.at(-1));
      if (source !== undefined) add(source, read.txn, WR);
      const next = writerTxn(key, order[read.value.length]);
      // A read of another transaction's intermediate state (G1b, reported) gives no anti-dependency on that transaction.
      if (next !== undefined && next !== source) add(read.txn, next, RW);
    }
  }
  addRealTimeEdges(history, isNode, add);
  return graph;
}

/**
 * T1 → T2 when T1 completed before T2 was invoked, reduced: a frontier holds the completed transactions no completed
 * successor dominates yet; an invocation links the frontier to it, and a completion replaces, in the frontier, the
 * transactions that preceded its invocation by itself.
 */
function addRealTimeEdges(history: readonly Txn[], isNode: (i: number) => boolean, add: (from: number, to: number, kind: number) => void): void {
  type Event = { time: number; kind: 0 | 1; txn: number };
  const events: Event[] = [];
  history.forEach((txn, i) => {
    if (!isNode(i)) return;
    events.push({ time: txn.start, kind: 1, txn: i });
    // Unknown outcomes have no known completion: they never precede anything in real time.
    if (txn.outcome === "ok" && txn.end !== null) events.push({ time: txn.end, kind: 0, txn: i });
  });
  // Completions before invocations at the same instant: equal times give no order, so invocations go first.
  events.sort((a, b) => a.time - b.time || b.kind - a.kind);
  let frontier = new Set<number>();
  const predecessors = new Map<number, Set<number>>();
  for (const event of events) {
    if (event.kind === 1) {
      for (const before of frontier) add(before, event.txn, RT);
      predecessors.set(event.txn, new Set(frontier));
    } else {
      const dominated = predecessors.get(event.txn) ?? new Set<number>();
      frontier = new Set([...frontier].filter((t) => !dominated.has(t)));
      frontier.add(event.txn);
    }
  }
}

interface CycleClass {
  name: string;
  /** Edge kinds the cycle may use. */
  mask: number;
  /** An edge kind the cycle must use (else it belongs to a stronger class). */
  needs: number;
  /** Exactly one rw edge. */
  singleRw?: boolean;
}

const CLASSES: readonly CycleClass[] = [
  { name: "G0", mask: WW, needs: WW },
  { name: "G1c", mask: WW | WR, needs: WR },
  { name: "G-single", mask: WW | WR, needs: RW, singleRw: true },
  { name: "G2", mask: WW | WR | RW, needs: RW },
  { name: "G0-realtime", mask: WW | RT, needs: RT },
  { name: "G1c-realtime", mask: WW | WR | RT, needs: RT },
  { name: "G-single-realtime", mask: WW | WR | RT, needs: RW, singleRw: true },
  { name: "G2-realtime", mask: WW | WR | RW | RT, needs: RT },
];

function findCycles(history: readonly Txn[], graph: Graph, found: Findings): void {
  const reported = new Set<string>();
  const report = (name: string, cycle: Array<{ node: number; kind: number }>) => {
    const key = cycle.map((step) => step.node).sort((a, b) => a - b).join(",");
    if (reported.has(key)) return;
    reported.add(key);
    const ids = cycle.map((step) => (history[step.node] as Txn).id);
    const path = cycle.map((step, i) => `${ids[i]} -${kindNames(step.kind)}-> `).join("") + ids[0];
    found.add(name, ids, path);
  };
  for (const cls of CLASSES) {
    if (cls.singleRw === true) {
      findSingleRwCycles(graph, cls, report);
      continue;
    }
    for (const component of stronglyConnected(graph, cls.mask)) {
      if (component.size < 2) continue;
      const cycle = cycleThroughKind(graph, component, cls.mask, cls.needs);
      if (cycle !== undefined) report(cls.name, cycle);
    }
  }
}

const kindNames = (mask: number) =>
  Object.entries(EDGE_NAMES)
    .filter(([bit]) => (mask & Number(bit)) !== 0)
    .map(([, name]) => name)
    .join("+");

/** A cycle in `component` through an edge of kind `needs`, over edges in `mask`: [node, kind of the edge leaving it]. */
function cycleThroughKind(graph: Graph, component: Set<number>, mask: number, needs: number): Array<{ node: number; kind: number }> | undefined {
  for (const from of component) {
    for (const [to, kinds] of graph.out.get(from) ?? []) {
      if (!component.has(to) || (kinds & needs) === 0) continue;
      const back = shortestPath(graph, to, from, mask, component);
      if (back !== undefined) return [{ node: from, kind: kinds & needs }, ...back];
    }
  }
  return undefined;
}

/** G-single: an rw edge a → b closed by a path b → a without rw edges (with real-time edges if the class allows them). */
function findSingleRwCycles(graph: Graph, cls: CycleClass, report: (name: string, cycle: Array<{ node: number; kind: number }>) => void): void {
  const pathMask = cls.mask & ~RW;
  // Only edges inside one component of the full class graph can close a cycle.
  const componentOf = new Map<number, number>();
  stronglyConnected(graph, cls.mask | RW).forEach((component, i) => {
    if (component.size > 1) for (const node of component) componentOf.set(node, i);
  });
  let tries = 0;
  const done = new Set<number>();
  for (const [from, succ] of graph.out) {
    const c = componentOf.get(from);
    if (c === undefined || done.has(c)) continue;
    for (const [to, kinds] of succ) {
      if ((kinds & RW) === 0 || componentOf.get(to) !== c || tries++ >= MAX_SINGLE_RW_TRIES) continue;
      const back = shortestPath(graph, to, from, pathMask, undefined);
      if (back === undefined) continue;
      const usesRealTime = back.some((step) => (step.kind & RT) !== 0);
      if ((cls.mask & RT) !== 0 && !usesRealTime) continue;
      report(cls.name, [{ node: from, kind: RW }, ...back]);
      done.add(c);
      break;
    }
  }
}

/** The shortest path from `from` to `to` over edges in `mask` (inside `within`, if given): each step's node and edge kind. */
function shortestPath(graph: Graph, from: number, to: number, mask: number, within: Set<number> | undefined): Array<{ node: number; kind: number }> | undefined {
  const parent = new Map<number, { prev: number; kind: number }>();
  const queue = [from];
  const seen = new Set([from]);
  for (let head = 0; head < queue.length; head++) {
    const node = queue[head] as number;
    if (node === to) break;
    for (const [next, kinds] of graph.out.get(node) ?? []) {
      if ((kinds & mask) === 0 || seen.has(next) || (within !== undefined && !within.has(next))) continue;
      seen.add(next);
      // Prefer the strongest edge kind of a pair when it has several.
      const kind = [WW, WR, RT, RW].find((k) => (kinds & mask & k) !== 0) as number;
      parent.set(next, { prev: node, kind });
      queue.push(next);
    }
  }
  if (!seen.has(to)) return undefined;
  const steps: Array<{ node: number; kind: number }> = [];
  for (let node = to; node !== from; ) {
    const p = parent.get(node) as { prev: number; kind: number };
    steps.unshift({ node: p.prev, kind: p.kind });
    node = p.prev;
  }
  return steps;
}

/** Strongly connected components over edges in `mask` (Tarjan's algorithm, iterative: no recursion depth limit). */
function stronglyConnected(graph: Graph, mask: number): Array<Set<number>> {
  const index = new Map<number, number>();
  const low = new Map<number, number>();
  const onStack = new Set<number>();
  const stack: number[] = [];
  const components: Array<Set<number>> = [];
  let counter = 0;
  const successors = (node: number) => [...(graph.out.get(node) ?? [])].filter(([, kinds]) => (kinds & mask) !== 0).map(([next]) => next);
  for (const root of graph.out.keys()) {
    if (index.has(root)) continue;
    const work: Array<{ node: number; next: number[]; i: number }> = [];
    const visit = (node: number) => {
      index.set(node, counter);
      low.set(node, counter);
      counter++;
      stack.push(node);
      onStack.add(node);
      work.push({ node, next: successors(node), i: 0 });
    };
    visit(root);
    while (work.length > 0) {
      const frame = work[work.length - 1] as { node: number; next: number[]; i: number };
      if (frame.i < frame.next.length) {
        const next = frame.next[frame.i++] as number;
        if (!index.has(next)) visit(next);
        else if (onStack.has(next)) low.set(frame.node, Math.min(low.get(frame.node) as number, index.get(next) as number));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent !== undefined) low.set(parent.node, Math.min(low.get(parent.node) as number, low.get(frame.node) as number));
      if (low.get(frame.node) === index.get(frame.node)) {
        const component = new Set<number>();
        for (;;) {
          const member = stack.pop() as number;
          onStack.delete(member);
          component.add(member);
          if (member === frame.node) break;
        }
        components.push(component);
      }
    }
  }
  return components;
}

