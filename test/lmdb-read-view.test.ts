/**
 * LMDB point reads hand their reader a view of lmdb-js's read buffer that is reused while the value size repeats
 * (src/engines/lmdb/read-view.ts): every read must still see exactly its own value, whatever size came before it,
 * also across a value larger than lmdb-js's read buffer (which lmdb-js then replaces with a larger one).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { openLmdbStore } from "../src/engines/lmdb/lmdb-store.js";
import { tempDir } from "./helpers/child.js";

const key = (name: string): Uint8Array => new Uint8Array(Buffer.from(name, "latin1"));
/** `length` bytes that differ from one value to the next. */
const valueOf = (seed: number, length: number): Uint8Array => Uint8Array.from({ length }, (_, i) => (seed * 31 + i) & 0xff);

test("lmdb point reads: each read sees exactly its value, reused view or not", async () => {
  const { dir, remove } = tempDir("lmdb-read-view");
  const store = await openLmdbStore({ path: join(dir, "data.lmdb") });
  try {
    const values = new Map<string, Uint8Array>([
      ["a", valueOf(1, 5)],
      ["b", valueOf(2, 5)],
      ["c", valueOf(3, 3)],
      ["d", valueOf(4, 101)],
      ["e", valueOf(5, 101)],
      // Larger than lmdb-js's read buffer: read through a buffer it allocates for it.
      ["big", valueOf(6, 300_000)],
    ]);
    assert.equal(await store.commit({ checks: [], writes: [...values].map(([name, value]) => ({ key: key(name), value })) }), true);
    const read = (name: string): { copy: Uint8Array | undefined; length: number | undefined } =>
      store.pointRead(key(name), (found, tag: string) => ({ copy: found === undefined ? undefined : new Uint8Array(found), length: found?.length, tag }), name);
    const order = ["a", "b", "a", "c", "d", "e", "d", "big", "a", "e", "big", "big", "c", "absent", "b"];
    for (const [i, name] of order.entries()) {
      const { copy, length } = read(name);
      const expected = values.get(name);
      assert.equal(length, expected?.length, `read ${i} (${name}): the view spans exactly the value`);
      assert.deepEqual(copy, expected, `read ${i} (${name}): the value's own bytes`);
    }
    // A value rewritten with the same size is read anew: the reused view shows the new bytes.
    const changed = valueOf(9, 5);
    assert.equal(await store.commit({ checks: [], writes: [{ key: key("a"), value: changed }] }), true);
    assert.deepEqual(read("b").copy, values.get("b"));
    assert.deepEqual(read("a").copy, changed);
  } finally {
    await store.close();
    remove();
  }
});
