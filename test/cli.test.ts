import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { runCli } from "../src/cli/run-cli.js";
import { LIMITS } from "../src/api/limits.js";
import type { Store } from "../src/api/types.js";
import { openStore } from "../src/open-store.js";

// This file runs as dist/test/cli.test.js; the CLI it spawns is the built dist/src/cli/main.js.
const MAIN = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));

/** The caller's environment without STOWAGE_* variables, so that a developer's settings cannot leak into a test. */
const CLEAN_ENV = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("STOWAGE_")));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let root: string;
let counter = 0;

/** A fresh folder under the test's temp dir: each test gets its own database file, so tests can run concurrently. */
function freshDir(): string {
  const dir = join(root, `t${++counter}`);
  mkdirSync(dir);
  return dir;
}

/** Runs the CLI in `cwd`; a non-zero exit is a result, not a rejection. */
function stowage(cwd: string, args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [MAIN, ...args], { cwd, env: { ...CLEAN_ENV, ...env }, encoding: "utf8" }, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== "number") return reject(error);
      resolve({ code: error === null ? 0 : (error.code as number), stdout, stderr });
    });
  });
}

/**
 * Runs the CLI in this process: the same code as the binary minus process start-up (~150 ms a spawn), for the
 * error matrix. The spawned tests cover the binary itself: exit statuses, stdout and stderr of a real process.
 */
async function stowageInProcess(cwd: string, args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const code = await runCli(args, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env, cwd });
  return { code, stdout, stderr };
}

/** A CLI bound to one database file (by flag) in a fresh folder. */
function cliOnFreshStore(): { dir: string; run: (...args: string[]) => Promise<Run> } {
  const dir = freshDir();
  return { dir, run: (...args) => stowage(dir, ["--storage-path", join(dir, "store.db"), ...args]) };
}

/** Asserts a successful run and returns its stdout. */
function ok(result: Run): string {
  assert.equal(result.code, 0, `exit ${result.code}, stderr: ${result.stderr}`);
  return result.stdout;
}

/** Pushes `items` to work queue `key` of namespace "jobs" and makes every one a dead letter (claimed and failed for good). */
async function killAll(store: Store, key: string, items: ReadonlyArray<{ value: Uint8Array; dedupKey?: string }>): Promise<void> {
  await store.workQueue("jobs").pushMany(key, items);
  for (let left = items.length; left > 0; ) {
    left -= await store.transaction(async (tx) => {
      const queue = tx.workQueue("jobs");
      const claimed = await queue.claim(key, { limit: LIMITS.maxClaimLimit });
      for (const item of claimed) await queue.fail(item, new Error("boom"), { final: true });
      return claimed.length;
    });
  }
}

before(() => {
  assert.ok(existsSync(MAIN), `build first: ${MAIN} is missing`);
  root = mkdtempSync(join(tmpdir(), "stowage-cli-"));
});
after(() => rmSync(root, { recursive: true, force: true }));

// Every test has its own store, so they run concurrently: the suite takes about as long as its longest test.
describe("stowage CLI", { concurrency: true }, () => {
  test("kv put, get, list, delete round trip", async () => {
    const { run } = cliOnFreshStore();
    assert.equal(ok(await run("kv", "put", "cfg", "a", "alpha")), "", "put is silent");
    ok(await run("kv", "put", "cfg", "b", "bravo", "--ttl-ms", "600000"));
    // A value starting with "-" goes after "--", or it would be read as an option.
    assert.deepEqual(JSON.parse(ok(await run("kv", "put", "cfg", "c", "--json", "--", "-1"))), { ok: true });
    assert.equal(ok(await run("kv", "get", "cfg", "a")), "alpha\n");
    assert.deepEqual(JSON.parse(ok(await run("kv", "get", "cfg", "b", "--json"))), { key: "b", value: "bravo", encoding: "utf8" });

    assert.equal(ok(await run("kv", "list", "cfg")), "a\talpha\nb\tbravo\nc\t-1\n");
    const page = await run("kv", "list", "cfg", "--limit", "2", "--json");
    const first = JSON.parse(ok(page)) as { entries: { key: string }[]; cursor: string };
    assert.deepEqual(first.entries.map((e) => e.key), ["a", "b"]);
    const rest = await run("kv", "list", "cfg", "--limit", "2", "--cursor", first.cursor);
    assert.equal(ok(rest), "c\t-1\n");
    assert.equal(rest.stderr, "", "the last page has no cursor");
    const textPage = await run("kv", "list", "cfg", "--limit", "1", "--keys-only", "--reverse");
    assert.equal(ok(textPage), "c\n");
    assert.match(textPage.stderr, /^more: --cursor \S+\n$/);

    assert.equal(ok(await run("kv", "delete", "cfg", "a")), "deleted\n");
    assert.deepEqual(JSON.parse(ok(await run("kv", "delete", "cfg", "a", "--json"))), { deleted: false });
  });

  test("health prints the status, the probe latency and the engine facts", async () => {
    const { run } = cliOnFreshStore();
    // A loaded machine may take the probe of a freshly started process past 100 ms: degraded, for that reason only.
    const slowProbe = /the probe read took [\d.]+ ms \(degraded from 100 ms\)/;
    const text = ok(await run("health"));
    assert.match(text, /^(healthy|degraded) \(probe \d+\.\d ms\)\n/);
    if (text.startsWith("degraded")) assert.match(text, slowProbe);
    assert.match(text, /diskFreeBytes: \d+/);
    const report = JSON.parse(ok(await run("health", "--json"))) as { status: string; reasons: string[]; engine: string; facts: Record<string, number> };
    assert.ok(report.status === "healthy" || (report.status === "degraded" && report.reasons.every((reason) => slowProbe.test(reason))), JSON.stringify(report));
    assert.equal(report.engine, "sqlite");
    assert.ok(report.facts.fileBytes !== undefined);
  });

  test("kv get of an absent key: nothing on stdout, NOT_FOUND on stderr, exit 3", async () => {
    const { run } = cliOnFreshStore();
    const text = await run("kv", "get", "cfg", "missing");
    assert.equal(text.code, 3);
    assert.equal(text.stdout, "");
    assert.match(text.stderr, /^error NOT_FOUND: .*"missing"/);
    const json = await stowageInProcess(freshDir(), ["--storage-backend", "memory", "kv", "get", "cfg", "missing", "--json"]);
    assert.equal(json.code, 3);
    assert.equal(json.stdout, "null\n");
  });

  test("log append, list, since", async () => {
    const { run } = cliOnFreshStore();
    assert.equal(ok(await run("log", "append", "events", "orders", "created")), "1\n");
    assert.equal(ok(await run("log", "append", "events", "users", "joined")), "2\n");
    assert.deepEqual(JSON.parse(ok(await run("log", "append", "events", "orders", "shipped", "--json"))), { seq: 3 });

    const lines = ok(await run("log", "list", "events", "orders")).trimEnd().split("\n");
    assert.equal(lines.length, 2);
    assert.match(lines[0] ?? "", /^1\t\d{4}-\d\d-\d\dT[\d:.]+Z\tcreated$/);
    assert.match(lines[1] ?? "", /^3\t.*\tshipped$/);

    const since = JSON.parse(ok(await run("log", "since", "events", "orders", "1", "--json"))) as { entries: Array<Record<string, unknown>> };
    assert.equal(since.entries.length, 1);
    assert.deepEqual({ ...since.entries[0], timestamp: 0 }, { seq: 3, key: "orders", timestamp: 0, value: "shipped", encoding: "utf8" });
    assert.equal(ok(await run("log", "since", "events", "orders", "3")), "");
  });

  test("slot upsert, cas win and lose, get", async () => {
    const { run } = cliOnFreshStore();
    assert.equal(ok(await run("slot", "cas", "leases", "leader", "0", "w1")), "1\n", "cas 0 creates an absent slot");
    assert.equal(ok(await run("slot", "upsert", "leases", "leader", "w2")), "2\n");
    assert.equal(ok(await run("slot", "cas", "leases", "leader", "2", "w3")), "3\n");

    const lost = await run("slot", "cas", "leases", "leader", "2", "stale");
    assert.equal(lost.code, 3);
    assert.equal(lost.stdout, "");
    assert.match(lost.stderr, /^error CONFLICT: cas lost: .* at version 3, not 2/);
    const lostJson = await run("slot", "cas", "leases", "leader", "1", "stale", "--json");
    assert.equal(lostJson.code, 3);
    assert.deepEqual(JSON.parse(lostJson.stdout), { swapped: false, version: 3 });

    assert.equal(ok(await run("slot", "get", "leases", "leader")), "3\tw3\n");
    const absent = await run("slot", "get", "leases", "nobody");
    assert.equal(absent.code, 3);
    assert.match(absent.stderr, /^error NOT_FOUND:/);
  });

  test("queue push, peek, ack, len, bounded push", async () => {
    const { run } = cliOnFreshStore();
    assert.equal(ok(await run("queue", "push", "jobs", "q", "one")), "1\n");
    assert.equal(ok(await run("queue", "push", "jobs", "q", "two")), "2\n");
    const head = ok(await run("queue", "peek", "jobs", "q"));
    assert.match(head, /^1\t\S+\tone\n$/, "peek defaults to one item");
    const peeked = JSON.parse(ok(await run("queue", "peek", "jobs", "q", "--limit", "5", "--json"))) as { items: Array<{ id: number; value: string }> };
    assert.deepEqual(peeked.items.map((i) => [i.id, i.value]), [[1, "one"], [2, "two"]]);

    const full = await run("queue", "push", "jobs", "q", "three", "--max-len", "2");
    assert.equal(full.code, 1);
    assert.match(full.stderr, /^error LIMIT_EXCEEDED: queue is full/);
    assert.equal(ok(await run("queue", "push", "jobs", "q", "three", "--max-len", "2", "--overflow", "drop-oldest")), "3\n");

    assert.equal(ok(await run("queue", "ack", "jobs", "q", "2")), "acked\n");
    assert.equal(ok(await run("queue", "ack", "jobs", "q", "2")), "absent\n");
    assert.equal(ok(await run("queue", "len", "jobs", "q")), "1\n");
  });

  test("work push, counts, dead, requeue and purge on a SQLite store", async () => {
    const dir = freshDir();
    const path = join(dir, "store.db");
    const run = (...args: string[]) => stowageInProcess(dir, ["--storage-path", path, ...args]);
    assert.equal(ok(await run("work", "push", "jobs", "email", "a")), "1\n");
    assert.equal(ok(await run("work", "push", "jobs", "email", "b", "--priority", "5")), "2\n");
    assert.deepEqual(JSON.parse(ok(await run("work", "push", "jobs", "email", "c", "--priority=-1", "--json"))), { id: 3, duplicate: false });
    ok(await run("work", "push", "jobs", "email", "d", "--delay-ms", "600000"));
    assert.equal(ok(await run("work", "push", "jobs", "email", "e\tline", "--dedup", "k")), "5\n");
    // The binary itself: a duplicate prints the holder's id on stdout, the note on stderr, and exits 0.
    const duplicate = await stowage(dir, ["--storage-path", path, "work", "push", "jobs", "email", "f", "--dedup", "k"]);
    assert.deepEqual([duplicate.code, duplicate.stdout, duplicate.stderr], [0, "5\n", 'duplicate: item 5 holds dedup key "k"; nothing was pushed\n']);
    ok(await run("work", "push", "jobs", "sms", "s"));
    assert.equal(ok(await run("work", "counts", "jobs")), "key    ready  delayed  leased  dead\nemail  4      1        0       0\nsms    1      0        0       0\n");

    // Claims in priority order (b, then a and e by age, then c); three fail for good, c stays leased.
    const store = await openStore({ backend: "sqlite", path });
    try {
      const queue = store.workQueue("jobs");
      const claimed = await queue.claim("email", { limit: 4 });
      assert.deepEqual(claimed.map((item) => item.id), [2, 1, 5, 3]);
      for (const item of claimed.slice(0, 3)) await queue.fail(item, new Error(`boom ${item.id}`), { final: true });
      // e (5) is dead, so its dedup key is free: this push is new, and keeps e from being requeued while it lives.
      assert.deepEqual(await queue.push("email", new TextEncoder().encode("g"), { dedupKey: "k" }), { id: 7, duplicate: false });
    } finally {
      await store.close();
    }
    assert.deepEqual(JSON.parse(ok(await run("work", "counts", "jobs", "email", "--json"))), { counts: [{ key: "email", ready: 1, delayed: 1, leased: 1, dead: 3 }] });

    const dead = ok(await run("work", "dead", "jobs", "email")).trimEnd().split("\n");
    assert.deepEqual(dead.map((line) => line.split("\t").filter((_, i) => i !== 2)), [["1", "1", "Error: boom 1", "a"], ["2", "1", "Error: boom 2", "b"], ["5", "1", "Error: boom 5", '"e\\tline"']]);
    assert.match(dead[0] ?? "", /^1\t1\t\d{4}-\d\d-\d\dT[\d:.]+Z\t/);
    const page = await run("work", "dead", "jobs", "email", "--limit", "2");
    assert.deepEqual([page.stdout.split("\n").length, page.stderr], [3, "more: --after 2\n"]);
    const rest = await run("work", "dead", "jobs", "email", "--after", "2", "--json");
    const restJson = JSON.parse(ok(rest)) as { items: Array<Record<string, unknown>> };
    assert.deepEqual({ ...restJson.items[0], pushedAt: 0, deadAt: 0 }, { id: 5, attempts: 1, pushedAt: 0, deadAt: 0, lastError: "Error: boom 5", dedupKey: "k", value: "e\tline", encoding: "utf8" });
    assert.equal(restJson.items.length, 1);
    assert.equal(rest.stderr, "", "the last page names no next one");

    assert.equal(ok(await run("work", "requeue", "jobs", "email", "1", "99")), "requeued 1\nnot dead letters 1 (absent, or live)\n");
    assert.deepEqual(JSON.parse(ok(await run("work", "requeue", "jobs", "email", "--all", "--json"))), { requeued: 1, skipped: [5], more: false });
    assert.equal(ok(await run("work", "requeue", "jobs", "email", "5")), "requeued 0\nskipped 1 (a live item holds their dedup key): 5\n");
    assert.deepEqual(JSON.parse(ok(await run("work", "counts", "jobs", "email", "--json"))).counts[0], { key: "email", ready: 3, delayed: 1, leased: 1, dead: 1 });

    assert.equal(ok(await run("work", "purge", "jobs", "email", "1")), "purged 0\nnot dead letters 1 (absent, or live)\n", "purge never removes a live item");
    assert.deepEqual(JSON.parse(ok(await run("work", "purge", "jobs", "email", "--all", "--json"))), { purged: 1, more: false });
    assert.equal(ok(await run("work", "dead", "jobs", "email")), "");
    assert.equal(ok(await run("work", "counts", "jobs", "email")), "key    ready  delayed  leased  dead\nemail  3      1        1       0\n");
    const empty = await run("work", "counts", "nothing");
    assert.deepEqual([empty.code, empty.stdout, empty.stderr], [0, "", 'no work queue holds items in namespace "nothing"\n']);
  });

  test("work requeue and purge --all go batch after batch, and stop when a batch requeues nothing", async () => {
    const dir = freshDir();
    const path = join(dir, "store.db");
    const run = (...args: string[]) => stowageInProcess(dir, ["--storage-path", path, ...args]);
    const one = LIMITS.maxClaimLimit; // what one requeue or purge call changes on SQLite
    const store = await openStore({ backend: "sqlite", path });
    try {
      const queue = store.workQueue("jobs");
      const value = new TextEncoder().encode("v");
      // "spread": item 1 holds dedup key "held" and is skipped in every batch; the other one + 2 take two batches.
      await killAll(store, "spread", [{ value, dedupKey: "held" }, ...Array.from({ length: one + 2 }, () => ({ value }))]);
      await queue.push("spread", value, { dedupKey: "held" });
      // "blocked": the first `one` dead letters are all skipped, so --all stops there, the last one still dead.
      await killAll(store, "blocked", Array.from({ length: one + 1 }, (_, i) => ({ value, dedupKey: `k${i}` })));
      await queue.pushMany("blocked", Array.from({ length: one }, (_, i) => ({ value, dedupKey: `k${i}` })));
    } finally {
      await store.close();
    }
    const spread = JSON.parse(ok(await run("work", "requeue", "jobs", "spread", "--all", "--json")));
    assert.deepEqual(spread, { requeued: one + 2, skipped: [1], more: false });
    assert.deepEqual(JSON.parse(ok(await run("work", "purge", "jobs", "spread", "--all", "--json"))), { purged: 1, more: false });

    const blocked = await run("work", "requeue", "jobs", "blocked", "--all");
    const [requeued, skipped, ...others] = ok(blocked).split("\n");
    assert.equal(requeued, "requeued 0");
    assert.match(skipped ?? "", new RegExp(`^skipped ${one} \\(a live item holds their dedup key\\): ${one + 5} ${one + 6} .* ${2 * one + 4}$`));
    assert.deepEqual(others, [""]);
    assert.match(blocked.stderr, /^more dead letters remain \(a call changed none of them, or \d+ calls were made\): run it again, or name their ids\n$/);
    const last = String(2 * one + 5); // ids: 1 … one + 3 "spread", one + 4 its live item, then "blocked"
    assert.equal(ok(await run("work", "requeue", "jobs", "blocked", last)), "requeued 1\n", "named, the dead letter behind them is requeued");
    assert.deepEqual(JSON.parse(ok(await run("work", "purge", "jobs", "blocked", "--all", "--json"))), { purged: one, more: false });
  });

  test("--file stores a file's bytes; non-UTF-8 values print as base64", async () => {
    const { dir, run } = cliOnFreshStore();
    writeFileSync(join(dir, "blob.bin"), Buffer.from([0x00, 0xff, 0xfe, 0x41]));
    writeFileSync(join(dir, "note.txt"), "line 1\nline 2");
    ok(await run("kv", "put", "files", "blob", "--file", "blob.bin"));
    ok(await run("log", "append", "files", "notes", "--file", "note.txt"));
    assert.equal(ok(await run("kv", "get", "files", "blob")), "base64:AP/+QQ==\n");
    assert.deepEqual(JSON.parse(ok(await run("kv", "get", "files", "blob", "--json"))), { key: "blob", value: "AP/+QQ==", encoding: "base64" });
    const log = JSON.parse(ok(await run("log", "list", "files", "notes", "--json"))) as { entries: Array<{ value: string }> };
    assert.equal(log.entries[0]?.value, "line 1\nline 2");

    const missing = await run("kv", "put", "files", "x", "--file", "nope.bin");
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^error INVALID_ARGUMENT: cannot read --file nope\.bin: no such file/);
    const both = await run("kv", "put", "files", "x", "value", "--file", "blob.bin");
    assert.equal(both.code, 2);
    assert.match(both.stderr, /^error USAGE: .*not both/);
  });

  test("text output is one unambiguous line per entry: text that could be misread prints as a JSON string (issue 17, defect 19)", async () => {
    const { dir, run } = cliOnFreshStore();
    writeFileSync(join(dir, "fffe.bin"), Buffer.from([0xff, 0xfe]));
    ok(await run("kv", "put", "ns", "bytes", "--file", "fffe.bin"));
    ok(await run("kv", "put", "ns", "text", "base64://4="));
    assert.equal(ok(await run("kv", "get", "ns", "bytes")), "base64://4=\n", "bytes that are not UTF-8");
    assert.equal(ok(await run("kv", "get", "ns", "text")), '"base64://4="\n', "text that looks like the marker is quoted");
    ok(await run("kv", "put", "ns", "tab\tkey", "line 1\nline 2"));
    ok(await run("kv", "put", "ns", "quoted", '"hi"'));
    ok(await run("kv", "put", "ns", "plain key", "plain value é"));
    const lines = ok(await run("kv", "list", "ns")).split("\n");
    assert.deepEqual(lines, ["bytes\tbase64://4=", "plain key\tplain value é", 'quoted\t"\\"hi\\""', '"tab\\tkey"\t"line 1\\nline 2"', 'text\t"base64://4="', ""]);
    for (const line of lines.slice(0, -1)) {
      const [key, value, ...rest] = line.split("\t");
      assert.deepEqual(rest, [], "exactly one tab a line");
      for (const cell of [key, value] as string[]) if (cell.startsWith('"')) assert.equal(typeof JSON.parse(cell), "string", "a quoted cell is JSON");
    }
    assert.equal(ok(await run("kv", "list", "ns", "--keys-only", "--prefix", "tab")), '"tab\\tkey"\n');
    ok(await run("slot", "upsert", "slots", "s", "a\rb"));
    assert.equal(ok(await run("slot", "get", "slots", "s")), '1\t"a\\rb"\n');
    ok(await run("queue", "push", "jobs", "q", "x\u007f"));
    assert.match(ok(await run("queue", "peek", "jobs", "q")), /^1\t\S+\t"x\\u007f"\n$/);
    assert.deepEqual(JSON.parse(ok(await run("kv", "get", "ns", "text", "--json"))), { key: "text", value: "base64://4=", encoding: "utf8" }, "--json is unchanged");
  });

  test("info reports engine, location, schema version, namespaces and stored rows", async () => {
    const { dir, run } = cliOnFreshStore();
    ok(await run("kv", "put", "alpha", "k", "v"));
    const text = ok(await run("info"));
    assert.match(text, /^engine +sqlite$/m);
    assert.ok(text.includes(join(dir, "store.db")));
    assert.match(text, /^schema version +\d+$/m);
    assert.match(text, /^stored rows +1$/m);
    assert.match(text, /^ +kv +alpha +1$/m);
    const json = JSON.parse(ok(await run("info", "--json"))) as Record<string, unknown>;
    assert.equal(json.engine, "sqlite");
    assert.equal(json.location, join(dir, "store.db"));
    assert.deepEqual(json.namespaces, [{ primitive: "kv", namespace: "alpha", count: 1 }]);
  });

  test("demo runs twice on the default store of a fresh folder (what npm start does)", async () => {
    const dir = freshDir();
    const first = ok(await stowage(dir, ["demo"]));
    assert.ok(existsSync(join(dir, "data", "stowage.db")), "the default path is ./data/stowage.db");
    for (const step of ["kv:", "log:", "slot:", "queue:", "transaction:", "info:"]) assert.ok(first.includes(step), `demo prints ${step}`);
    assert.match(first, /absent \(first run\)/);
    const second = ok(await stowage(dir, ["demo"]));
    assert.match(second, /get +checkpoint\/orders -> \{"offset":101/, "the second run sees the first run's checkpoint");
    assert.match(second, /cas leader expecting \d+ -> won/);
    for (const primitive of ["kv", "log", "slot", "queue"]) assert.match(second, new RegExp(`^ +${primitive} +demo +\\d+$`, "m"));
  });

  test("configuration from env and a config file reaches the store", async () => {
    const dir = freshDir();
    writeFileSync(join(dir, "stowage.yaml"), "storage:\n  path: ./from-file.db\n");
    ok(await stowage(dir, ["kv", "put", "ns", "k", "v"], { STOWAGE_CONFIG: "stowage.yaml" }));
    assert.ok(existsSync(join(dir, "from-file.db")));
    const info = JSON.parse(ok(await stowage(dir, ["info", "--json"], { STOWAGE_CONFIG: "stowage.yaml", STOWAGE_STORAGE_PATH: "env.db" })));
    assert.equal(info.location, join(dir, "env.db"), "env overrides the file");
  });

  test("a bad backend exits 1 naming the code and the source", async () => {
    const dir = freshDir();
    const flag = await stowage(dir, ["info", "--storage-backend", "mongo"]);
    assert.equal(flag.code, 1);
    assert.equal(flag.stdout, "");
    assert.match(flag.stderr, /^error INVALID_ARGUMENT: --storage-backend must be one of memory, sqlite, postgres, lmdb, leveldb, etcd, redis, azure-table, composite; got "mongo"\n$/);
    const env = await stowageInProcess(dir, ["info"], { STOWAGE_STORAGE_BACKEND: "mongo" });
    assert.equal(env.code, 1);
    assert.match(env.stderr, /^error INVALID_ARGUMENT: STOWAGE_STORAGE_BACKEND must be/);
    writeFileSync(join(dir, "bad.yaml"), "storage:\n  backend: sqlite\n  colour: blue\n");
    const file = await stowageInProcess(dir, ["info", "--config", "bad.yaml"]);
    assert.equal(file.code, 1);
    assert.match(file.stderr, /^error INVALID_ARGUMENT: unknown field storage\.colour in bad\.yaml/);
    assert.ok(!existsSync(join(dir, "data")), "no store was created");
  });

  test("a library error exits 1 with its code", async () => {
    const { run } = cliOnFreshStore();
    const result = await run("kv", "put", "bad namespace", "k", "v");
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error INVALID_ARGUMENT: namespace "bad namespace" is invalid/);
  });

  test("usage errors exit 2 and print usage; help exits 0", async () => {
    const dir = freshDir();
    const cases: Array<[string[], RegExp]> = [
      [[], /missing command/],
      [["kv"], /kv needs a subcommand: get, put, delete, list/],
      [["kv", "get", "ns"], /kv get takes <ns> <key>; got 1 argument/],
      [["kv", "get", "ns", "k", "--limit", "3"], /kv get does not take --limit/],
      [["log", "since", "ns", "k", "ten"], /<seq> must be a whole number/],
      [["--bogus", "info"], /Unknown option '--bogus'/],
      [["frob"], /unknown command "frob"/],
      [["demo", "--json"], /demo does not take --json/],
      [["queue", "push", "ns", "k", "v", "--overflow", "drop-oldest"], /--overflow needs --max-len/],
      [["queue", "push", "ns", "k", "v", "--max-len", "2", "--overflow", "drop-newest"], /--overflow must be reject or drop-oldest/],
      [["kv", "put", "ns", "k", "v", "--ttl-ms", "1e3"], /--ttl-ms must be a whole number/],
      [["kv", "put", "ns", "k"], /missing <value> \(or --file <path>\)/],
      [["work"], /work needs a subcommand: counts, push, dead, requeue, purge/],
      [["work", "counts", "ns", "k", "extra"], /work counts takes <ns> \[<key>\]; got 3 arguments/],
      [["work", "dead", "ns"], /work dead takes <ns> <key>; got 1 argument/],
      [["work", "dead", "ns", "k", "--after", "z"], /--after must be a whole number, got "z"/],
      [["work", "push", "ns", "k", "v", "--priority", "high"], /--priority must be a whole number, negative or not, got "high"/],
      [["work", "push", "ns", "k", "v", "--priority", "-1"], /'--priority' argument is ambiguous/],
      [["work", "push", "ns", "k", "v", "--delay-ms=-1"], /--delay-ms must be a whole number, got "-1"/],
      [["work", "push", "ns", "k", "v", "--all"], /work push does not take --all/],
      [["work", "requeue", "ns", "k"], /work requeue needs the <id>… of dead letters, or --all/],
      [["work", "requeue", "ns", "k", "3", "x"], /<id> must be a whole number, got "x"/],
      [["work", "purge", "ns", "k", "3", "--all"], /work purge takes <id>… or --all, not both/],
      [["work", "purge", "ns"], /work purge takes <ns> <key> \[<id>…\|--all\]; got 1 argument/],
    ];
    const results = await Promise.all(cases.map(([args]) => stowageInProcess(dir, args)));
    results.forEach((result, i) => {
      const [args, message] = cases[i] as [string[], RegExp];
      assert.equal(result.code, 2, `stowage ${args.join(" ")}`);
      assert.equal(result.stdout, "");
      assert.match(result.stderr, /^error USAGE: /);
      assert.match(result.stderr, message);
      assert.match(result.stderr, /Usage: stowage /);
    });
    const spawned = await stowage(dir, ["kv", "get", "ns"]);
    assert.equal(spawned.code, 2);
    assert.match(spawned.stderr, /^error USAGE: kv get takes <ns> <key>; got 1 argument: "ns"\n\nUsage: stowage kv get <ns> <key>\n/);
    assert.ok(!existsSync(join(dir, "data")), "usage errors never open the store");

    const [help, helpCommand] = await Promise.all([stowage(dir, ["--help"]), stowageInProcess(dir, ["help"])]);
    assert.equal(help.code, 0);
    assert.equal(helpCommand.stdout, help.stdout);
    for (const command of ["kv get", "kv put", "kv delete", "kv list", "log append", "log list", "log since", "slot get", "slot upsert", "slot cas", "queue push", "queue peek", "queue ack", "queue len", "work counts", "work push", "work dead", "work requeue", "work purge", "info", "demo"]) {
      assert.ok(help.stdout.includes(`stowage ${command}`), `usage documents ${command}`);
    }
    assert.match(help.stdout, /Exit status:/);
    assert.match(help.stdout, /NOT_FOUND/);
    assert.match(help.stdout, /NOT_SUPPORTED \(such as an engine whose driver package is not installed\)/);
  });

  test("help lists every engine with its options, their defaults, and which are required", async () => {
    const help = ok(await stowageInProcess(freshDir(), ["--help"]));
    assert.match(help, /--storage-backend <name> +The engine: memory, sqlite \(default\), postgres, lmdb, leveldb,\s+etcd, redis, azure-table, composite\n/);
    for (const engine of ["memory", "sqlite \\(default\\)", "postgres", "lmdb", "leveldb", "etcd", "redis", "azure-table", "composite"]) assert.match(help, new RegExp(`^  ${engine}: \\S`, "m"));
    const flags = [...help.matchAll(/^ {4}--(storage-[a-z-]+) /gm)].map((match) => match[1]);
    assert.deepEqual(flags, ["storage-snapshot-path", "storage-snapshot-interval-ms", "storage-path", "storage-durability", "storage-busy-timeout-ms", "storage-dsn", "storage-schema", "storage-pool-size", "storage-read-pool-size", "storage-work-pool-size", "storage-connect-timeout-ms", "storage-statement-timeout-ms", "storage-path", "storage-path", "storage-endpoints", "storage-prefix", "storage-request-timeout-ms", "storage-username", "storage-password", "storage-tls-ca-file", "storage-tls-cert-file", "storage-tls-key-file", "storage-url", "storage-prefix", "storage-request-timeout-ms", "storage-tls-ca-file", "storage-tls-cert-file", "storage-tls-key-file", "storage-connection-string", "storage-table", "storage-request-timeout-ms", "storage-primary", "storage-standby", "storage-mode", "storage-replicate-interval-ms", "storage-probe-interval-ms", "storage-fail-after", "storage-failback", "storage-max-pending-batches"]);
    assert.match(help, /--storage-connection-string <connection-string>\s+The Azure Storage connection string .*\(required\)/s);
    assert.match(help, /--storage-path <file> +LMDB data file .*\n.*\(default \.\/data\/stowage\.lmdb\)/);
    assert.match(help, /--storage-path <file> +SQLite database file; it and its folders are created if absent\n +\(default \.\/data\/stowage\.db\)/);
    assert.match(help, /--storage-url <url> +redis:\/\/\[user:password@\]host:port\[\/db\], or rediss:\/\/ for TLS\n +\(default redis:\/\/127\.0\.0\.1:6379\)/);
    assert.match(help, /--storage-dsn <url> +postgres:\/\/user:password@host:port\/database \(required\)/);
    assert.match(help, /--storage-pool-size <n> +Most connections \(default 10\)/);
    const options = help.slice(help.indexOf("\nOptions:"), help.indexOf("\nConfiguration"));
    for (const line of options.split("\n")) assert.ok(line.length <= 100, `option lines wrap at 100: ${JSON.stringify(line)}`);
  });
});
