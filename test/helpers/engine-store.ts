import { join } from "node:path";
import { openStore, type Clock, type OpenStoreOptions, type Store } from "../../src/index.js";
import { tempDir } from "./child.js";

/** The engines the adapter tests run on. */
export type EngineName = "memory" | "sqlite" | "postgres";

/**
 * Opens a fresh store of `engine` for `body` — a file in a temp folder for SQLite, the schema `<prefix>_<name>` on the
 * server at `pgDsn()` for PostgreSQL — then closes and removes it. `body` also gets the options, to open the same
 * store again (in another process, for instance).
 */
export async function withEngineStore(
  engine: EngineName,
  prefix: string,
  name: string,
  pgDsn: () => string,
  body: (store: Store, options: OpenStoreOptions) => Promise<void>,
  clock?: Clock,
): Promise<void> {
  const tmp = tempDir(`${prefix}-${name}`);
  const options: OpenStoreOptions =
    engine === "memory"
      ? { backend: "memory" }
      : engine === "sqlite"
        ? { backend: "sqlite", path: join(tmp.dir, "store.db"), busyTimeoutMs: 10_000 }
        : { backend: "postgres", dsn: pgDsn(), schema: `${prefix}_${name}`, poolSize: 4 };
  const store = await openStore({ ...options, sweepIntervalMs: 0, ...(clock === undefined ? {} : { clock }) });
  try {
    await body(store, options);
  } finally {
    await store.close();
    tmp.remove();
  }
}
