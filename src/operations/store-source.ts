import { StowageError } from "../api/errors.js";
import { compareKeys } from "../api/key-order.js";
import type { NamespaceInfo, Store } from "../api/types.js";
import type { Awaitable, Engine, EngineOps, QueuePosition } from "../engines/engine.js";
import { dumpRefused } from "../engines/dump-refused.js";
import { storeParts } from "../wrappers/layer.js";
import { dumpVersionFor, type DumpPrimitive, type SectionEnd, type SectionStart } from "./dump-format.js";
import { SectionEmitter, type DumpSource } from "./dump-events.js";

/** Rows read per engine call while dumping: big enough that a call's cost is small beside its rows. */
export const DUMP_PAGE = 1_000;

/** The order namespaces go out in, the same from every engine, so that two dumps of equal stores are equal. */
const PRIMITIVE_ORDER: readonly DumpPrimitive[] = ["kv", "log", "slot", "queue", "stream", "work"];

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
    const totals = await engine.snapshot(async (ops) => {
      const sections = inDumpOrder((await ops.describe(now)).namespaces).filter((info) => skip?.has(`${info.primitive}:${info.namespace}`) !== true);
      // The header names the oldest format that carries these sections, known once the snapshot listed them.
      const version = dumpVersionFor(sections.map((info) => info.primitive));
      await sink({ type: "header", header: { stowage: "dump", version, createdAt: Date.now(), snapshotAt: now, source: { engine: engine.name, location: engine.location } } });
      let namespaces = 0;
      let items = 0;
      for (const info of sections) {
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

/** A namespace of a store: its primitive and name. */
export type Section = Pick<NamespaceInfo, "primitive" | "namespace">;

/**
 * One namespace of an engine read as a dump would carry it, in a snapshot of its own: its closing facts (count and
 * digest), or undefined when a dump would leave it out (nothing to carry).
 */
export async function namespaceFacts(engine: Engine, now: number, section: Section): Promise<SectionEnd | undefined> {
  if (engine.snapshot === undefined) throw dumpRefused(`the ${engine.name} engine`);
  return engine.snapshot(async (ops) => {
    let end: SectionEnd | undefined;
    const emitter = new SectionEmitter(await sectionStart(ops, section), (event) => {
      if (event.type === "end") end = event.end;
    });
    await readNamespace(ops, section, now, emitter);
    await emitter.finish();
    return end;
  });
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

async function sectionStart(ops: EngineOps, info: Section): Promise<SectionStart> {
  switch (info.primitive) {
    case "log":
      return { begin: "log", namespace: info.namespace, lastSeq: await ops.logLastSeq(info.namespace) };
    case "queue":
      return { begin: "queue", namespace: info.namespace, lastId: await ops.queueLastId(info.namespace) };
    case "work":
      return { begin: "work", namespace: info.namespace, lastId: await ops.workLastId(info.namespace) };
    default:
      return { begin: info.primitive, namespace: info.namespace };
  }
}

async function readNamespace(ops: EngineOps, info: Section, now: number, out: SectionEmitter): Promise<void> {
  const ns = info.namespace;
  switch (info.primitive) {
    case "kv":
      for await (const rows of pagesOf((after: string | null) => ops.kvDump(ns, after, DUMP_PAGE, now), (row) => row.key)) await out.page(rows.map((row) => ({ kind: "kv", row })));
      return;
    case "slot":
      for await (const rows of pagesOf((after: string | null) => ops.slotDump(ns, after, DUMP_PAGE), (row) => row.key)) await out.page(rows.map((row) => ({ kind: "slot", row })));
      return;
    case "log":
      for await (const entries of pagesOf((after: number | null) => ops.logReadAll(ns, after ?? 0, DUMP_PAGE), (entry) => entry.seq)) await out.page(entries.map((entry) => ({ kind: "log", entry })));
      return;
    case "queue":
      for await (const rows of pagesOf((after: QueuePosition | null) => ops.queueDump(ns, after, DUMP_PAGE), (row) => ({ key: row.key, id: row.id }))) {
        await out.page(rows.map((row) => ({ kind: "queue", row })));
      }
      return;
    case "stream":
      return readStream(ops, ns, out);
    case "work":
      for await (const rows of pagesOf((after: QueuePosition | null) => ops.workDump(ns, after, DUMP_PAGE), (row) => ({ key: row.key, id: row.id }))) {
        await out.page(rows.map((row) => ({ kind: "work", row })));
      }
      return;
    default:
      throw new StowageError("INTERNAL", `describe listed namespace "${ns}" of an unknown primitive ${String(info.primitive)}`, { namespace: ns });
  }
}

async function readStream(ops: EngineOps, ns: string, out: SectionEmitter): Promise<void> {
  const byName = (name: string) => name;
  for await (const spaces of pagesOf((after: string | null) => ops.streamSpaces(ns, after, DUMP_PAGE), byName)) {
    for (const space of spaces) {
      for await (const segments of pagesOf((after: string | null) => ops.streamSegments(ns, space, after, DUMP_PAGE), byName)) {
        for (const segment of segments) {
          const read = (after: number | null) => ops.streamRead(ns, space, segment, (after ?? 0) + 1, Number.MAX_SAFE_INTEGER, DUMP_PAGE);
          for await (const entries of pagesOf(read, (entry) => entry.seq)) await out.page(entries.map((entry) => ({ kind: "stream", space, segment, entry })));
        }
      }
    }
  }
}

/**
 * The pages of a paged read, each read after the position of the last row of the one before (null: from the start),
 * until a page comes back short of `size` rows. Empty pages are not yielded. The next page is asked for before a page
 * is yielded, so that a server reads it while the caller handles this one (one page ahead at most).
 */
export async function* pagesOf<R, P>(read: (after: P | null) => Awaitable<R[]>, positionOf: (row: R) => P, size = DUMP_PAGE): AsyncGenerator<R[]> {
  let next: Awaitable<R[]> | undefined = read(null);
  try {
    while (next !== undefined) {
      const rows: R[] = await next;
      next = rows.length < size ? undefined : read(positionOf(rows.at(-1)!));
      if (rows.length > 0) yield rows;
    }
  } finally {
    // A caller that stopped early leaves a read ahead in flight: settled here, its failure is nobody's.
    if (next !== undefined) await Promise.resolve(next).catch(() => undefined);
  }
}
