import type { EngineDescriptor } from "../descriptor.js";
import { pathField } from "../engine-fields.js";
import { OrderedEngine, orderedSupports } from "../ordered/ordered-engine.js";
import { DEFAULT_LMDB_PATH, LMDB_LIMITS, openLmdbStore, type LmdbStoreOptions } from "./lmdb-store.js";

/** The LMDB engine: the ordered-KV family on an LMDB file; its driver, lmdb, is loaded when it opens. */
export const LMDB_ENGINE: EngineDescriptor<LmdbStoreOptions> = {
  name: "lmdb",
  summary: "An embedded LMDB file (copy-on-write B+tree): one machine, any number of processes",
  supports: orderedSupports({ singleWriter: false, limits: LMDB_LIMITS }),
  fields: [pathField({ option: "path", doc: "LMDB data file (its lock file sits beside it); missing folders are created", default: DEFAULT_LMDB_PATH })],
  open: async (options) => OrderedEngine.open(await openLmdbStore(options)),
};
