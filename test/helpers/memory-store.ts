import { openStore, type Store } from "../../src/index.js";

/** Runs `body` on a fresh in-memory store (no sweeper), and closes it however the body ends. */
export async function withMemoryStore(body: (store: Store) => Promise<void>): Promise<void> {
  const store = await openStore({ backend: "memory", sweepIntervalMs: 0 });
  try {
    await body(store);
  } finally {
    await store.close();
  }
}
