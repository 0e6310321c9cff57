import { StowageError } from "../../api/errors.js";
import { asBuffer, META_KEY } from "./key-layout.js";
import { LAYOUT_VERSION } from "./ordered-ops.js";
import type { OrderedStore } from "./ordered-store.js";

/** What the layout version record holds: this magic, then the version as 4 bytes. */
const MAGIC = "stowage-ordered-kv";

const versionRecord = (version: number): Buffer => {
  const out = Buffer.alloc(MAGIC.length + 4);
  out.write(MAGIC, 0, "latin1");
  out.writeUInt32BE(version, MAGIC.length);
  return out;
};

/**
 * Checks the store's layout version record, creating it in an empty store and raising an older version to this one
 * (version 1, before work queues, or 2, before bare KV entries: one checked commit of the record). A store that holds
 * other data, or a newer layout, is refused with INCOMPATIBLE: the family never writes into a key space it does not
 * understand. Once raised, a store is refused by older stowage (upgrade every process before the first open by this
 * one).
 */
export async function openLayout(store: OrderedStore): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const snapshot = await store.snapshot();
    let record: Uint8Array | undefined;
    let other: number;
    let torn = false;
    try {
      record = await snapshot.get(META_KEY);
      other = record === undefined ? (await snapshot.range(Buffer.from([0x00]), Buffer.from([0xff]), { limit: 1 })).length : 0;
      if (record !== undefined) record = Buffer.from(record);
      // A snapshot that is not one point in time (Redis, Azure Table) may have missed the record another process
      // created between the two reads, then seen it or what that process wrote next: such data proves nothing.
      else if (other > 0) torn = (await snapshot.consistent?.()) === false;
    } finally {
      snapshot.release();
    }
    if (record !== undefined) {
      const version = checkVersion(store, record);
      if (version === LAYOUT_VERSION) return;
      // An older layout is raised to this one: every version so far only added record kinds, so the record alone changes.
      // The commit checks the record read, so of two processes upgrading at once one writes it and the other reads again.
      await store.commit({ checks: [{ kind: "get", key: META_KEY, value: record }], writes: [{ key: META_KEY, value: versionRecord(LAYOUT_VERSION) }] });
      continue;
    }
    if (torn) continue;
    if (other > 0) throw new StowageError("INCOMPATIBLE", `${store.location} holds data that is not stowage's (no stowage layout record); refusing to write into it`);
    const written = versionRecord(LAYOUT_VERSION);
    if (await store.commit({ checks: [{ kind: "get", key: META_KEY, value: undefined }], writes: [{ key: META_KEY, value: written }] })) return;
    // Another process created it meanwhile: read it again.
  }
  throw new StowageError("CONFLICT", `could not create the stowage layout record in ${store.location}`);
}

/** The version of a layout record this code can read (INCOMPATIBLE otherwise). */
function checkVersion(store: OrderedStore, record: Uint8Array): number {
  const buffer = asBuffer(record);
  if (buffer.length !== MAGIC.length + 4 || buffer.toString("latin1", 0, MAGIC.length) !== MAGIC) {
    throw new StowageError("INCOMPATIBLE", `${store.location} holds data that is not stowage's (a foreign layout record)`);
  }
  const version = buffer.readUInt32BE(MAGIC.length);
  if (version > LAYOUT_VERSION) {
    throw new StowageError("INCOMPATIBLE", `${store.location} has stowage's ordered layout version ${version}, newer than this stowage's ${LAYOUT_VERSION}; upgrade stowage`);
  }
  return version;
}
