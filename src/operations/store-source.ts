import { StowageError } from "../api/errors.js";
import { compareKeys } from "../api/key-order.js";
import type { NamespaceInfo, Store } from "../api/types.js";
import type { Engine, EngineOps } from "../engines/engine.js";
import { dumpRefused } from "../engines/dump-refused.js";
import { storeParts } from "../wrappers/layer.js";
import { DUMP_VERSION, type DumpPrimitive, type SectionStart } from "./dump-format.js";
import { SectionEmitter, type DumpSource } from "./dump-events.js";

/** Rows read per engine call while dumping: big enough that a call's cost is small beside its rows. */
export const DUMP_PAGE = 1_000;

/** The order namespaces go out in, the same from every engine, so that two dumps of equal stores are equal. */
const PRIMITIVE_ORDER: readonly DumpPrimitive[] = ["kv", "log", "slot", "queue", "stream"];

/** The engine of a stowage store (wrappers' layers included); INVALID_ARGUMENT for anything else. */
export function engineOfStore(store: Store): Engine {
  return storeParts(store).engine;
}

/** The store clock's reading now. */
export function storeNow(store: Store): number {
  return storeParts(store).clock();
}

/** Options of a store read as a dump. */
export interface StoreSourceOptions {
  /** The clock reading KV entries are judged live at (default: the store clock's now). */
  now?: number;
  /** Namespaces to leave out (already copied, on a resumed migration), as `primitive:namespace`. */
  skip?: ReadonlySet<string>;
}

/**
 * A store as a dump source: one consistent snapshot of it (`Engine.snapshot`), every namespace `describe` lists, in
 * a fixed order (primitive, then namespace in key order), each read in pages of {@link DUMP_PAGE}.
 */
export function storeSource(store: Store, options: StoreSourceOptions = {}): DumpSource {
  return engineSource(engineOfStore(store), options.now ?? storeNow(store), options.skip);
}

/** An engine as a dump source (see {@link storeSource}), its KV entries judged live at `now`. */
export function engineSource(engine: Engine, now: number, skip?: ReadonlySet<string>): DumpSource {
  return async (sink) => {
    if (engine.snapshot === undefined) throw dumpRefused(`the ${engine.name} engine`);
    await sink({ type: "header", header: { stowage: "dump", version: DUMP_VERSION, createdAt: Date.now(), snapshotAt: now, source: { engine: engine.name, location: engine.location } } });
    const totals = await engine.snapshot(async (ops) => {
      const described = await ops.describe(now);
      let namespaces = 0;
      let items = 0;
      for (const info of inDumpOrder(described.namespaces)) {
        if (skip?.has(`${info.primitive}:${info.namespace}`) === true) continue;
        const emitter = new SectionEmitter(await sectionStart(ops, info), sink);
        await readNamespace(ops, info, now, emitter);
        if (await emitter.finish()) namespaces += 1;
        items += emitter.items;
      }
      return { namespaces, items };
    });
    await sink({ type: "trailer", trailer: { end: "dump", ...totals } });
  };
}

/** A namespace's place in every dump: by primitive, then name. */
export function compareSections(a: { primitive: DumpPrimitive; namespace: string }, b: { primitive: DumpPrimitive; namespace: string }): number {
  return PRIMITIVE_ORDER.indexOf(a.primitive) - PRIMITIVE_ORDER.indexOf(b.primitive) || compareKeys(a.namespace, b.namespace);
}

function inDumpOrder(namespaces: readonly NamespaceInfo[]): NamespaceInfo[] {
  const seen = new Set<string>();
  const unique = namespaces.filter((info) => {
    const id = `${info.primitive}:${info.namespace}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
  return unique.sort(compareSections);
}

async function sectionStart(ops: EngineOps, info: NamespaceInfo): Promise<SectionStart> {
  switch (info.primitive) {
    case "log":
      return { begin: "log", namespace: info.namespace, lastSeq: await ops.logLastSeq(info.namespace) };
    case "queue":
      return { begin: "queue", namespace: info.namespace, lastId: await ops.queueLastId(info.namespace) };
    default:
      return { begin: info.primitive, namespace: info.namespace };
  }
}

async function readNamespace(ops: EngineOps, info: NamespaceInfo, now: number, out: SectionEmitter): Promise<void> {
  const ns = info.namespace;
  switch (info.primitive) {
    case "kv":
      for (let after: string | null = null; ; ) {
        const rows = await ops.kvDump(ns, after, DUMP_PAGE, now);
        await out.page(rows.map((row) => ({ kind: "kv", row })));
        if (rows.length < DUMP_PAGE) return;
        after = rows.at(-1)!.key;
      }
    case "slot":
      for (let after: string | null = null; ; ) {
        const rows = await ops.slotDump(ns, after, DUMP_PAGE);
        await out.page(rows.map((row) => ({ kind: "slot", row })));
        if (rows.length < DUMP_PAGE) return;
        after = rows.at(-1)!.key;
      }
    case "log":
      for (let after = 0; ; ) {
        const entries = await ops.logReadAll(ns, after, DUMP_PAGE);
        await out.page(entries.map((entry) => ({ kind: "log", entry })));
        if (entries.length < DUMP_PAGE) return;
        after = entries.at(-1)!.seq;
      }
    case "queue":
      for (let after: { key: string; id: number } | null = null; ; ) {
        const rows = await ops.queueDump(ns, after, DUMP_PAGE);
        await out.page(rows.map((row) => ({ kind: "queue", row })));
        if (rows.length < DUMP_PAGE) return;
        const last = rows.at(-1)!;
        after = { key: last.key, id: last.id };
      }
    case "stream":
      return readStream(ops, ns, out);
    default:
      throw new StowageError("INTERNAL", `describe listed namespace "${ns}" of an unknown primitive ${String(info.primitive)}`, { namespace: ns });
  }
}

async function readStream(ops: EngineOps, ns: string, out: SectionEmitter): Promise<void> {
  for await (const space of names((after) => ops.streamSpaces(ns, after, DUMP_PAGE))) {
    for await (const segment of names((after) => ops.streamSegments(ns, space, after, DUMP_PAGE))) {
      for (let from = 1; ; ) {
        const entries = await ops.streamRead(ns, space, segment, from, Number.MAX_SAFE_INTEGER, DUMP_PAGE);
        await out.page(entries.map((entry) => ({ kind: "stream", space, segment, entry })));
        if (entries.length < DUMP_PAGE) break;
        from = entries.at(-1)!.seq + 1;
      }
    }
  }
}

/** Every name a paged listing gives, page after page. */
async function* names(page: (after: string | null) => Promise<string[]> | string[]): AsyncGenerator<string> {
  for (let after: string | null = null; ; ) {
    const listed = await page(after);
    yield* listed;
    if (listed.length < DUMP_PAGE) return;
    after = listed.at(-1)!;
  }
}
