import { StowageError } from "../../api/errors.js";
import type { EngineOps } from "../engine.js";
import { OP_FACTS, opsCalling, runCall } from "../engine-calls.js";
import { META_KEY, type KeyLayout } from "./key-layout.js";
import type { OrderedStore } from "./ordered-store.js";
import { SnapshotSlot } from "./reader-pool.js";

/**
 * Runs `body` over one snapshot of `store` held until it settles (see `OrderedEngine.snapshot`). The body's reads go
 * straight to the snapshot: nothing is recorded, so memory stays what the body keeps. The first read is made here, at
 * the call, which fixes the point in time on stores that fix it at a read (etcd's revision) and starts the commit
 * watch of those that cannot hold one (Redis, Azure Table), whose snapshot is then checked when the body settles.
 */
export async function withHeldSnapshot<T>(store: OrderedStore, keys: KeyLayout, body: (ops: EngineOps) => Promise<T>): Promise<T> {
  const snapshot = await store.snapshot();
  let open = true;
  try {
    const slot = new SnapshotSlot(keys, store.synchronousPointReads === true);
    slot.snapshot = snapshot;
    await snapshot.get(META_KEY);
    const ops = opsCalling((call) => {
      if (!open) throw new StowageError("INTERNAL", `${call.op} through a snapshot of the ${store.name} engine after its body settled`);
      if (OP_FACTS[call.op].kind === "write") throw new StowageError("INTERNAL", `${call.op} through a snapshot of the ${store.name} engine: a snapshot only reads`);
      return runCall(slot.ops, call);
    });
    let result: T;
    try {
      result = await body(ops);
    } catch (error) {
      // A body that failed on reads of a torn view failed on data that never was.
      if ((await snapshot.consistent?.()) === false) throw torn(store, error);
      throw error;
    }
    if ((await snapshot.consistent?.()) === false) throw torn(store);
    return result;
  } finally {
    open = false;
    snapshot.release();
  }
}

function torn(store: OrderedStore, cause?: unknown): StowageError {
  return new StowageError("CONFLICT", `the ${store.name} store at ${store.location} changed while it was read (it has no snapshot reads); run again on a quieter store`, cause === undefined ? {} : { cause });
}
