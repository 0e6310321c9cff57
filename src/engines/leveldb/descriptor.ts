import type { EngineDescriptor } from "../descriptor.js";
import { pathField } from "../engine-fields.js";
import { OrderedEngine, orderedSupports } from "../ordered/ordered-engine.js";
import { DEFAULT_LEVELDB_PATH, LEVELDB_LIMITS, openLevelDbStore, type LevelDbStoreOptions } from "./leveldb-store.js";

/** The LevelDB engine: the ordered-KV family on a LevelDB folder; its driver, classic-level, is loaded when it opens. */
export const LEVELDB_ENGINE: EngineDescriptor<LevelDbStoreOptions> = {
  name: "leveldb",
  summary: "An embedded LevelDB folder (LSM tree): one process at a time",
  supports: orderedSupports({ singleWriter: true, limits: LEVELDB_LIMITS }),
  fields: [pathField({ option: "path", doc: "LevelDB folder; it and its parents are created if absent", default: DEFAULT_LEVELDB_PATH })],
  open: async (options) => OrderedEngine.open(await openLevelDbStore(options)),
};
