/**
 * A dump's item lines are put together by hand (they are the hot path of export and validate); they must be the bytes
 * JSON.stringify makes of the format's objects, or digests of old dumps and of other stowage versions would differ.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { itemLine, readLine, type DumpItem } from "../src/operations/dump-format.js";

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
