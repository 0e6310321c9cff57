import type { Slot, Versioned } from "../api/types.js";
import { HandleBase } from "./handle-base.js";
import { checkInteger, checkKey, utf8Length } from "./validate.js";

/** The store's {@link Slot} implementation. */
export class SlotHandle<T> extends HandleBase<T> implements Slot<T> {
  async get(key: string): Promise<Versioned<T> | undefined> {
    const ns = this.namespace;
    checkKey(ns, key);
    const stored = await this.exec.read({ op: "slotGet", args: [ns, key] });
    return stored === undefined ? undefined : { version: stored.version, value: this.codec.decode(key, stored.value) };
  }

  async upsert(key: string, value: T): Promise<number> {
    const ns = this.namespace;
    checkKey(ns, key);
    const bytes = this.codec.encode(key, value);
    return this.exec.write({ op: "slotUpsert", args: [ns, key, bytes] }, utf8Length(key) + bytes.byteLength);
  }

  async cas(key: string, expectedVersion: number, value: T): Promise<boolean> {
    const ns = this.namespace;
    checkKey(ns, key);
    const expected = checkInteger(ns, "expectedVersion", expectedVersion, 0, Number.MAX_SAFE_INTEGER, key);
    const bytes = this.codec.encode(key, value);
    return this.exec.write({ op: "slotCas", args: [ns, key, expected, bytes] }, utf8Length(key) + bytes.byteLength);
  }
}
