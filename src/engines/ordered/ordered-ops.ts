import type { NamespaceInfo } from "../../api/types.js";
import type { EngineDescription, EngineOps } from "../engine.js";
import { drive, type Program } from "../awaitable.js";
import { kvCountByScan, streamPeekFromStatus } from "../derived-ops.js";
import type { OrderedTx } from "./buffered-tx.js";
import type { KeyLayout } from "./key-layout.js";
import * as kv from "./kv-programs.js";
import * as lsq from "./log-slot-queue-programs.js";
import * as stream from "./stream-programs.js";
import * as dump from "./dump-programs.js";
import { TAG } from "./key-layout.js";
import * as work from "./work-programs.js";
import { numberAt } from "./record-values.js";

/**
 * The layout version this code writes and reads (the layout version record; see `OrderedEngine.open`). Version 2 added
 * the work queue records (tags 0x60–0x65); version 3 the bare KV entry record (a value without deadline stored as it
 * is, see `kvRecord`). An older store is raised at open (see `openLayout`): each version only added record kinds.
 */
export const LAYOUT_VERSION = 3;

/**
 * The primitives over one {@link OrderedTx}: a snapshot for reads, a buffered transaction for writes. Each operation
 * is a program (see `drive`), so it answers synchronously when the store's reads do; the hottest reads are plain
 * functions. `kvCount` and `streamPeek` are the derived operations.
 */
export function orderedOps(tx: OrderedTx, keys: KeyLayout, context: Omit<kv.OrderedContext, "tx" | "keys"> = {}): EngineOps {
  const c: kv.OrderedContext = { tx, keys, ...context };
  const run = <A extends unknown[], T>(program: (c: kv.OrderedContext, ...args: A) => Program<T>) => (...args: A) => drive(program(c, ...args));
  const ops: EngineOps = {
    kvGet: (ns, key, now) => kv.kvGetValue(c, ns, key, now),
    kvGetEntry: (ns, key, now) => kv.kvGetEntry(c, ns, key, now),
    kvPut: run(kv.kvPut),
    kvDelete: run(kv.kvDelete),
    kvScan: run(kv.kvScan),
    kvCount: (ns, range, now) => kvCountByScan(ops, ns, range, now),
    kvDeleteRange: run(kv.kvDeleteRange),
    kvSweepExpired: run(kv.kvSweepExpired),
    kvHistoryStart: run(kv.kvHistoryStart),
    kvHistoryRead: run(kv.kvHistoryRead),
    kvHistoryTrim: run(kv.kvHistoryTrim),
    logAppend: run(lsq.logAppend),
    logRead: run(lsq.logRead),
    logLastSeq: (ns) => lsq.logLastSeq(c, ns),
    logReadAll: run(lsq.logReadAll),
    slotGet: (ns, key) => lsq.slotGet(c, ns, key),
    slotUpsert: run(lsq.slotUpsert),
    slotCas: run(lsq.slotCas),
    queuePush: run(lsq.queuePush),
    queuePeek: run(lsq.queuePeek),
    queueAck: run(lsq.queueAck),
    queueDropOldest: run(lsq.queueDropOldest),
    queueLen: (ns, key) => lsq.queueLen(c, ns, key),
    streamProduce: run(stream.streamProduce),
    streamRead: run(stream.streamRead),
    streamReadSpace: run(stream.streamReadSpace),
    streamPeek: (ns, space, segment) => streamPeekFromStatus(ops, ns, space, segment),
    streamSpaces: run(stream.streamSpaces),
    streamSegments: run(stream.streamSegments),
    streamStatus: run(stream.streamStatus),
    streamLastSeqs: run(stream.streamLastSeqs),
    kvDump: run(dump.kvDump),
    slotDump: run(dump.slotDump),
    queueDump: run(dump.queueDump),
    queueLastId: run(dump.queueLastId),
    kvRestore: run(dump.kvRestore),
    logRestore: run(dump.logRestore),
    slotRestore: run(dump.slotRestore),
    queueRestore: run(dump.queueRestore),
    streamRestore: run(dump.streamRestore),
    workPush: run(work.workPush),
    workClaim: run(work.workClaim),
    workExtend: run(work.workExtend),
    workSettle: run(work.workSettle),
    workPoll: run(work.workPoll),
    workCounts: run(work.workCounts),
    workKeys: run(work.workKeys),
    workDead: run(work.workDead),
    workRequeue: run(work.workRequeue),
    workPurge: run(work.workPurge),
    workDump: run(work.workDump),
    workLastId: run(work.workLastId),
    workRestore: run(work.workRestore),
    describe: (now) => drive(describe(c, now)),
  };
  return ops;
}

/**
 * Every namespace that holds anything a dump carries, with its count, read a page at a time. A KV namespace is listed
 * while it stores entries (expired ones too, counted in `storedRows` only); a queue namespace while it has handed out
 * an id, even with every item acknowledged (a move must keep its last id), and so is a work namespace.
 */
function* describe(c: kv.OrderedContext, now: number): Program<EngineDescription> {
  const namespaces: NamespaceInfo[] = [];
  let storedRows = 0;
  const add = (primitive: NamespaceInfo["primitive"], counts: Map<string, number>, listEmpty = false) => {
    for (const [namespace, count] of counts) {
      if (count === 0 && !listEmpty) continue;
      namespaces.push({ primitive, namespace, count });
      storedRows += count;
    }
  };
  const kvCounts = yield* dump.countsByNamespace(c, TAG.kv, (record) => (kv.live(record, now) ? 1 : 0));
  for (const [namespace, count] of kvCounts.counts) namespaces.push({ primitive: "kv", namespace, count });
  storedRows += kvCounts.records;
  add("log", (yield* dump.countsByNamespace(c, TAG.logCounter, (counter) => numberAt(counter, 1))).counts);
  add("slot", (yield* dump.countsByNamespace(c, TAG.slot, () => 1)).counts);
  const queues = (yield* dump.countsByNamespace(c, TAG.queueCounter, () => 0)).counts;
  for (const [namespace, length] of (yield* dump.countsByNamespace(c, TAG.queueLength, (record) => numberAt(record, 0))).counts) queues.set(namespace, (queues.get(namespace) ?? 0) + length);
  add("queue", queues, true);
  add("stream", (yield* dump.countsByNamespace(c, TAG.segmentStatus, (status) => numberAt(status, 2))).counts);
  const work = (yield* dump.countsByNamespace(c, TAG.workCounter, () => 0)).counts;
  for (const [namespace, items] of (yield* dump.countsByNamespace(c, TAG.workState, () => 1)).counts) work.set(namespace, (work.get(namespace) ?? 0) + items);
  add("work", work, true);
  return { schemaVersion: LAYOUT_VERSION, namespaces, storedRows };
}
