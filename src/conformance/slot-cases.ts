import assert from "node:assert/strict";
import { json } from "../api/codec.js";
import { dec, enc, rejectsWith, type CaseGroup } from "./harness.js";

export const slotCases: CaseGroup = {
  "upsert versions start at 1 and grow by one per write": async ({ store }) => {
    const slot = store.slot("snapshots");
    assert.equal(await slot.get("pipe/orders"), undefined);
    assert.equal(await slot.upsert("pipe/orders", enc("a")), 1);
    assert.equal(await slot.upsert("pipe/orders", enc("b")), 2);
    const current = await slot.get("pipe/orders");
    assert.equal(current?.version, 2);
    assert.equal(dec(current?.value), "b");
  },

  "cas with the current version wins once; a stale version loses and changes nothing": async ({ store }) => {
    const slot = store.slot("ns", { codec: json<{ n: number }>() });
    const v = await slot.upsert("k", { n: 1 });
    assert.equal(await slot.cas("k", v, { n: 2 }), true);
    assert.equal(await slot.cas("k", v, { n: 3 }), false);
    assert.deepEqual(await slot.get("k"), { version: v + 1, value: { n: 2 } });
    assert.equal(await slot.cas("k", v + 5, { n: 4 }), false);
    assert.deepEqual(await slot.get("k"), { version: v + 1, value: { n: 2 } });
  },

  "cas with expected version 0 writes only if absent": async ({ store }) => {
    const slot = store.slot("ns");
    assert.equal(await slot.cas("k", 0, enc("first")), true);
    assert.equal(await slot.cas("k", 0, enc("second")), false);
    assert.deepEqual(await slot.get("k"), { version: 1, value: enc("first") });
    assert.equal(await slot.cas("absent", 1, enc("x")), false);
    assert.equal(await slot.get("absent"), undefined);
  },

  "of concurrent cas calls with the same expected version exactly one wins": async ({ store }) => {
    const slot = store.slot("ns");
    for (let round = 0; round < 5; round++) {
      const version = (await slot.get("k"))?.version ?? 0;
      const results = await Promise.all(Array.from({ length: 16 }, (_, i) => slot.cas("k", version, enc(`r${round}w${i}`))));
      assert.equal(results.filter(Boolean).length, 1, `round ${round}`);
      const winner = results.indexOf(true);
      assert.deepEqual(await slot.get("k"), { version: version + 1, value: enc(`r${round}w${winner}`) });
    }
  },

  "bad slot arguments are INVALID_ARGUMENT and write nothing": async ({ store }) => {
    const slot = store.slot("ns");
    await rejectsWith(slot.cas("k", -1, enc("x")), "INVALID_ARGUMENT", "expectedVersion");
    await rejectsWith(slot.cas("k", 1.5, enc("x")), "INVALID_ARGUMENT", "expectedVersion");
    await rejectsWith(slot.cas("k", Number.NaN, enc("x")), "INVALID_ARGUMENT", "expectedVersion");
    await rejectsWith(slot.upsert("k", "text" as never), "INVALID_ARGUMENT", "value");
    await rejectsWith(slot.upsert(1 as never, enc("x")), "INVALID_ARGUMENT", "key");
    assert.equal(await slot.get("k"), undefined);
  },
};
