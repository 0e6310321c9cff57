/**
 * A dump's item lines are put together by hand (they are the hot path of export and validate); they must be the bytes
 * JSON.stringify makes of the format's objects, or digests of old dumps and of other stowage versions would differ.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { dumpVersionFor, itemLine, readLine, type DumpItem } from "../src/operations/dump-format.js";

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

/** The format's objects, as the README's dump format lists their fields. */
function specLine(item: DumpItem): string {
  switch (item.kind) {
    case "kv":
      return JSON.stringify({ k: item.row.key, v: base64(item.row.value), x: item.row.expiresAt });
    case "log":
      return JSON.stringify({ s: item.entry.seq, k: item.entry.key, v: base64(item.entry.value), t: item.entry.timestamp });
    case "slot":
      return JSON.stringify({ k: item.row.key, n: item.row.version, v: base64(item.row.value) });
    case "queue":
      return JSON.stringify({ k: item.row.key, i: item.row.id, v: base64(item.row.value), t: item.row.pushedAt });
    case "stream": {
      const { entry } = item;
      return JSON.stringify({ sp: item.space, sg: item.segment, s: entry.seq, t: entry.timestamp, v: base64(entry.value), ...(entry.headers === null ? {} : { h: entry.headers }), ...(entry.compression === null ? {} : { c: entry.compression }) });
    }
    case "work": {
      const { row } = item;
      return JSON.stringify({
        k: row.key, i: row.id, v: base64(row.value), t: row.pushedAt, p: row.priority, x: row.visibleAt, a: row.attempts, m: row.maxAttempts,
        r: row.policy, l: row.token, d: row.dedup, e: row.lastError, z: row.deadAt, dead: row.dead,
      });
    }
  }
}

const KEYS = ["plain", "", 'quote " and \\ backslash', "tab\tnew\nline\u0001", "ünïcødé ✓ 𝄞", "\ud800 lone", "</script>"];
const VALUES = [new Uint8Array(0), new Uint8Array([0, 255, 62, 63]), new TextEncoder().encode("a value of some length, ".repeat(5))];
const NUMBERS = [0, 1, 1_767_225_600_000, Number.MAX_SAFE_INTEGER - 1];

function items(): DumpItem[] {
  const out: DumpItem[] = [];
  for (const key of KEYS) {
    for (const value of VALUES) {
      for (const n of NUMBERS) {
        out.push({ kind: "kv", row: { key, value, expiresAt: n === 0 ? null : n } });
        out.push({ kind: "log", entry: { seq: n + 1, key, value, timestamp: n } });
        out.push({ kind: "slot", row: { key, version: n + 1, value } });
        out.push({ kind: "queue", row: { key, id: n + 1, value, pushedAt: n } });
        out.push({ kind: "stream", space: key, segment: "s", entry: { seq: n + 1, timestamp: n, value, headers: n === 0 ? null : '{"h":1}', compression: null } });
        const work = { key, id: n + 1, value, pushedAt: n, priority: n === 0 ? -2_147_483_648 : 7, visibleAt: n, attempts: 2, maxAttempts: 5, policy: '{"type":"fixed","delayMs":20}' };
        out.push({ kind: "work", row: { ...work, token: n === 0 ? null : 281_474_976_710_655, dedup: n === 0 ? null : key, dead: false, lastError: null, deadAt: null } });
        out.push({ kind: "work", row: { ...work, token: null, dedup: null, dead: true, lastError: `Error: ${key}`, deadAt: n } });
      }
    }
  }
  return out;
}

test("each item's line is JSON.stringify of the format's object, and reads back as the item", () => {
  for (const item of items()) {
    const line = itemLine(item);
    assert.equal(line, specLine(item));
    const read = readLine(line, item.kind, { line: 2 });
    assert.equal(read.type, "item");
    assert.equal(itemLine((read as { item: DumpItem }).item), line);
  }
});

test("a work line whose state does not hold together is CORRUPT: a token on a dead item, a death time on a live one", () => {
  const line = (fields: string) => `{"k":"q","i":1,"v":"","t":0,"p":0,"x":0,"a":1,"m":5,"r":"{}",${fields}}`;
  for (const fields of ['"l":9,"d":null,"e":"x","z":5,"dead":true', '"l":null,"d":null,"e":"x","z":null,"dead":true', '"l":null,"d":null,"e":null,"z":5,"dead":false', '"l":null,"d":null,"e":null,"z":null,"dead":"no"']) {
    assert.throws(() => readLine(line(fields), "work", { line: 3, namespace: "jobs" }), (error: Error & { code?: string }) => error.code === "CORRUPT" && /line 3 \(namespace "jobs"\)/.test(error.message));
  }
  assert.equal(readLine(line('"l":null,"d":null,"e":"x","z":5,"dead":true'), "work", { line: 3 }).type, "item");
});

test("a dump is written as version 1 unless it holds a work section", () => {
  assert.equal(dumpVersionFor(["kv", "log", "slot", "queue", "stream"]), 1);
  assert.equal(dumpVersionFor([]), 1);
  assert.equal(dumpVersionFor(["kv", "work"]), 2);
});
