import type { NamespaceInfo } from "../../api/types.js";
import type { EngineDescription, EngineOps } from "../engine.js";
import { drive, type Program } from "../awaitable.js";
import { kvCountByScan, streamPeekFromStatus } from "../derived-ops.js";
import type { OrderedTx } from "./buffered-tx.js";
import type { KeyLayout } from "./key-layout.js";
import { TAG } from "./key-layout.js";
import * as kv from "./kv-programs.js";
import * as lsq from "./log-slot-queue-programs.js";
import * as stream from "./stream-programs.js";
import { dumpPending } from "../dump-pending.js";

/** The layout version this code writes and reads (the layout version record; see `OrderedEngine.open`). */
export const LAYOUT_VERSION = 1;

/**
 * The primitives over one {@link OrderedTx}: a snapshot for reads, a buffered transaction for writes. Each operation
 * is a program (see `drive`), so it answers synchronously when the store's reads do; the hottest reads are plain
 * functions. `kvCount` and `streamPeek` are the derived operations.
 */
export function orderedOps(tx: OrderedTx, keys: KeyLayout, transientPointKeys = false): EngineOps {
  const c: kv.OrderedContext = { tx, keys, transientPointKeys };
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
    kvDump: () => {
      throw dumpPending("kvDump");
    },
    slotDump: () => {
      throw dumpPending("slotDump");
    },
    queueDump: () => {
      throw dumpPending("queueDump");
    },
    queueLastId: () => {
      throw dumpPending("queueLastId");
    },
    kvRestore: () => {
      throw dumpPending("kvRestore");
    },
    logRestore: () => {
      throw dumpPending("logRestore");
    },
    slotRestore: () => {
      throw dumpPending("slotRestore");
    },
    queueRestore: () => {
      throw dumpPending("queueRestore");
    },
    streamRestore: () => {
      throw dumpPending("streamRestore");
    },
    describe: (now) => drive(describe(c, now)),
  };
  return ops;
}

function* describe(c: kv.OrderedContext, now: number): Program<EngineDescription> {
  const namespaces: NamespaceInfo[] = [];
  let storedRows = 0;
  const add = (primitive: NamespaceInfo["primitive"], counts: Map<string, number>) => {
    for (const [namespace, count] of counts) {
      if (count === 0) continue;
      namespaces.push({ primitive, namespace, count });
      storedRows += count;
    }
  };
  const kvCounts = yield* kv.kvCounts(c, now);
  for (const [namespace, count] of kvCounts.live) namespaces.push({ primitive: "kv", namespace, count });
  storedRows += kvCounts.stored;
  add("log", yield* lsq.countsByNamespace(c, TAG.logCounter, 1));
  add("slot", yield* lsq.countsByNamespace(c, TAG.slot));
  add("queue", yield* lsq.countsByNamespace(c, TAG.queueLength, 0));
  add("stream", yield* stream.streamCounts(c));
  return { schemaVersion: LAYOUT_VERSION, namespaces, storedRows };
}
