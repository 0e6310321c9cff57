import { OrderedEngine } from "../../src/engines/ordered/ordered-engine.js";
import { openLevelDbStore } from "../../src/engines/leveldb/leveldb-store.js";
import { openLmdbStore } from "../../src/engines/lmdb/lmdb-store.js";
import { createStore, openStore, type OpenStoreOptions, type Store } from "../../src/index.js";
import type { StoreOptions } from "../../src/store/store.js";

/** Options of the ordered-KV family's engines as the process tests pass them to children (JSON: no clock). */
export type OrderedTestOptions = { backend: "lmdb" | "leveldb"; path: string } & Omit<StoreOptions, "clock">;

/** `openStore` options, or an engine of the ordered-KV family (until `openStore` opens those by itself). */
export type TestStoreOptions = OpenStoreOptions | OrderedTestOptions;

const isOrdered = (options: TestStoreOptions): options is OrderedTestOptions => options.backend === "lmdb" || options.backend === "leveldb";

/** Opens a store from {@link TestStoreOptions}: through `openStore`, or the ordered-KV family on LMDB or LevelDB. */
export async function openTestStore(options: TestStoreOptions): Promise<Store> {
  if (!isOrdered(options)) return openStore(options);
  const { backend, path, ...storeOptions } = options;
  const ordered = backend === "lmdb" ? await openLmdbStore({ path }) : await openLevelDbStore({ path });
  return createStore(await OrderedEngine.open(ordered), storeOptions);
}
