import assert from "node:assert/strict";
import { utf8 } from "../api/codec.js";
import type { LogEntry } from "../api/types.js";
import { rejectsWith, type CaseGroup } from "./harness.js";

/** The next `n` items of an iterator. */
async function take<E>(iterator: AsyncIterator<E>, n: number): Promise<E[]> {
  const items: E[] = [];
  while (items.length < n) {
    const next = await iterator.next();
    if (next.done === true) break;
    items.push(next.value);
  }
  return items;
}

const brief = (entries: ReadonlyArray<LogEntry<string>>) => entries.map((e) => `${e.seq}:${e.key}:${e.value}`);

export const feedCases: CaseGroup = {
  "log.tail yields a key's entries committed after its start, in order, and ends when aborted": async ({ store }) => {
    const log = store.log("l", { codec: utf8 });
    await log.append("k", "before");
    const stop = new AbortController();
    const feed = log.tail("k", { since: await log.lastSeq(), signal: stop.signal })[Symbol.asyncIterator]();
    const pending = take(feed, 3);
    await log.append("k", "one");
    await log.append("other", "skipped");
    await log.append("k", "two");
    await store.transaction(async (tx) => {
      await tx.log("l", { codec: utf8 }).append("k", "three");
    });
    assert.deepEqual(brief(await pending), ["2:k:one", "4:k:two", "5:k:three"]);
    stop.abort();
    assert.deepEqual(await feed.next(), { done: true, value: undefined });
  },

  "log.tail of the whole namespace replays from a past sequence, then goes live with no gap at the join": async ({ store }) => {
    const log = store.log("l", { codec: utf8 });
    for (const key of ["a", "b", "a"]) await log.append(key, key);
    const stop = new AbortController();
    const feed = log.tail({ all: true }, { since: 1, signal: stop.signal })[Symbol.asyncIterator]();
    assert.deepEqual(brief(await take(feed, 2)), ["2:b:b", "3:a:a"]);
    const live = take(feed, 2);
    await log.append("c", "c");
    await log.append("a", "a2");
    assert.deepEqual(brief(await live), ["4:c:c", "5:a:a2"]);
    stop.abort();
  },

  "log.tail without since starts at the end; break ends it; closing the store ends every feed": async ({ open }) => {
    const store = await open();
    const log = store.log("l", { codec: utf8 });
    await log.append("k", "old");
    const seen: string[] = [];
    const first = (async () => {
      for await (const entry of log.tail("k")) {
        seen.push(entry.value);
        if (seen.length === 2) break;
      }
    })();
    // Appends keep coming until the feed has started and seen two of them (its start is when iteration begins).
    for (let i = 0; i < 100 && seen.length < 2; i++) {
      await log.append("k", `new${i}`);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await first;
    assert.equal(seen.length, 2);
    assert.ok(!seen.includes("old"), "a tail without since does not replay");
    const waiting = log.tail({ all: true })[Symbol.asyncIterator]();
    const next = waiting.next();
    await store.close();
    assert.deepEqual(await next, { done: true, value: undefined });
  },

  "log.tail refuses bad arguments, and is not available inside a transaction": async ({ store }) => {
    const log = store.log("l");
    assert.throws(() => log.tail(""), /INVALID_ARGUMENT/);
    assert.throws(() => log.tail({ all: false } as never), /INVALID_ARGUMENT/);
    assert.throws(() => log.tail("k", { since: -1 }), /INVALID_ARGUMENT/);
    assert.throws(() => log.tail("k", { signal: {} as AbortSignal }), /INVALID_ARGUMENT/);
    await rejectsWith(
      store.transaction(async (tx) => {
        tx.log("l").tail("k");
      }),
      "INVALID_ARGUMENT",
    );
  },
};
