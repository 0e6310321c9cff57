/**
 * The SQLite engine's file-level behaviour: creation, reopening, refusing files that are not (or not yet) ours
 * without touching them, concurrent creation by several processes, durability levels and a busy lock.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { isStowageError, openStore, utf8, type ErrorCode, type Store } from "../src/index.js";
import { killAll, startChild, tempDir, waitAllFor, type Child } from "./helpers/child.js";

const APPLICATION_ID = 0x53544f57;
const SCHEMA_VERSION = 5;
const SCHEMA_OBJECTS = [
  "stowage_counter",
  "stowage_kv",
  "stowage_kv_change",
  "stowage_kv_expiry",
  "stowage_kv_history",
  "stowage_log",
  "stowage_log_key",
  "stowage_queue",
  "stowage_queue_len",
  "stowage_queue_pushed",
  "stowage_queue_removed",
  "stowage_slot",
  "stowage_stream",
  "stowage_stream_segment",
  "stowage_stream_time",
  "stowage_work",
  "stowage_work_claim",
  "stowage_work_dedup",
];

function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** Awaits `promise` and checks that it rejects with a StowageError of `code`; the error. */
async function rejectsWith(promise: Promise<unknown>, code: ErrorCode): Promise<Error> {
  let outcome: { ok: true; value: unknown } | { ok: false; error: unknown };
  try {
    outcome = { ok: true, value: await promise };
  } catch (error) {
    outcome = { ok: false, error };
  }
  if (outcome.ok) assert.fail(`expected a ${code} rejection, got a result: ${String(outcome.value)}`);
  const { error } = outcome;
  assert.ok(isStowageError(error, code), `expected ${code}, got ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
  return error;
}

/** Opening `path` fails with `code`, and neither the file nor its folder changed (no journal or WAL left behind). */
async function refusesUntouched(path: string, code: ErrorCode): Promise<void> {
  const folder = resolve(path, "..");
  const before = { hash: sha256(path), size: statSync(path).size, listing: readdirSync(folder).sort() };
  const error = await rejectsWith(openStore({ backend: "sqlite", path, sweepIntervalMs: 0 }), code);
  assert.ok(error.message.includes(resolve(path)), `the message names the file: ${error.message}`);
  assert.deepEqual({ hash: sha256(path), size: statSync(path).size, listing: readdirSync(folder).sort() }, before, `${path} was changed`);
}

/** The schema objects, application_id and user_version of a file, read with a separate connection. */
function fileIdentity(path: string): { applicationId: number; userVersion: number; objects: string[] } {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const objects = (db.prepare("SELECT name FROM sqlite_master ORDER BY name").all() as Array<{ name: string }>).map((row) => row.name);
    return {
      applicationId: db.pragma("application_id", { simple: true }) as number,
      userVersion: db.pragma("user_version", { simple: true }) as number,
      objects,
    };
  } finally {
    db.close();
  }
}

const STOWAGE_IDENTITY = { applicationId: APPLICATION_ID, userVersion: SCHEMA_VERSION, objects: SCHEMA_OBJECTS };

/** Writes one of each primitive. */
async function writeSample(store: Store): Promise<void> {
  await store.kv("k", { codec: utf8 }).put("a", "kv value");
  assert.equal(await store.log("l", { codec: utf8 }).append("a", "log value"), 1);
  assert.equal(await store.slot("s", { codec: utf8 }).upsert("a", "slot value"), 1);
  assert.equal(await store.queue("q", { codec: utf8 }).push("a", "queue value"), 1);
}

/** Checks what {@link writeSample} wrote. */
async function checkSample(store: Store): Promise<void> {
  assert.equal(await store.kv("k", { codec: utf8 }).get("a"), "kv value");
  assert.deepEqual(
    (await store.log("l", { codec: utf8 }).list("a")).map(({ seq, value }) => ({ seq, value })),
    [{ seq: 1, value: "log value" }],
  );
  assert.deepEqual(await store.slot("s", { codec: utf8 }).get("a"), { version: 1, value: "slot value" });
  assert.deepEqual(
    (await store.queue("q", { codec: utf8 }).peek("a", 10)).map(({ id, value }) => ({ id, value })),
    [{ id: 1, value: "queue value" }],
  );
}

test("the file and its missing parent folders are created on first open; reopening keeps the data", async () => {
  const tmp = tempDir("file-create");
  try {
    const path = join(tmp.dir, "a", "b", "c", "store.db");
    assert.equal(existsSync(join(tmp.dir, "a")), false);
    const store = await openStore({ backend: "sqlite", path, sweepIntervalMs: 0 });
    try {
      assert.ok(statSync(path).isFile(), "the file exists once the store is open");
      const info = await store.info();
      assert.equal(info.engine, "sqlite");
      assert.equal(info.location, resolve(path));
      assert.equal(info.schemaVersion, SCHEMA_VERSION);
      await writeSample(store);
    } finally {
      await store.close();
    }
    assert.deepEqual(fileIdentity(path), STOWAGE_IDENTITY);

    const reopened = await openStore({ backend: "sqlite", path, sweepIntervalMs: 0 });
    try {
      await checkSample(reopened);
      assert.equal(await reopened.log("l").lastSeq(), 1);
    } finally {
      await reopened.close();
    }
    assert.deepEqual(fileIdentity(path), STOWAGE_IDENTITY);
  } finally {
    tmp.remove();
  }
});

test("a SQLite file of another program fails with INCOMPATIBLE and is left untouched", async () => {
  const tmp = tempDir("file-foreign");
  try {
    // A rollback-journal database with a table and a row.
    const plain = join(tmp.dir, "plain.db");
    let db = new Database(plain);
    db.exec("CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO accounts (name) VALUES ('alice'), ('bob');");
    db.close();
    await refusesUntouched(plain, "INCOMPATIBLE");

    // A WAL database of another program.
    const wal = join(tmp.dir, "wal.db");
    db = new Database(wal);
    db.pragma("journal_mode = WAL");
    db.exec("CREATE TABLE t (x); INSERT INTO t VALUES (42);");
    db.close();
    await refusesUntouched(wal, "INCOMPATIBLE");

    // No tables yet, but another program's application_id.
    const claimed = join(tmp.dir, "claimed.db");
    db = new Database(claimed);
    db.pragma("application_id = 1234");
    db.close();
    await refusesUntouched(claimed, "INCOMPATIBLE");

    // The other program still reads its data.
    db = new Database(plain, { readonly: true });
    try {
      assert.deepEqual(db.prepare("SELECT name FROM accounts ORDER BY id").pluck().all(), ["alice", "bob"]);
    } finally {
      db.close();
    }
  } finally {
    tmp.remove();
  }
});

test("a stowage file of a newer schema version fails with INCOMPATIBLE and is left untouched", async () => {
  const tmp = tempDir("file-newer");
  try {
    const path = join(tmp.dir, "store.db");
    const store = await openStore({ backend: "sqlite", path, sweepIntervalMs: 0 });
    await writeSample(store);
    await store.close();

    let db = new Database(path);
    db.pragma("user_version = 99");
    db.close();
    await refusesUntouched(path, "INCOMPATIBLE");

    // Back at the current version, the same file opens with its data: the version was the only obstacle.
    db = new Database(path);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
    db.close();
    const reopened = await openStore({ backend: "sqlite", path, sweepIntervalMs: 0 });
    try {
      await checkSample(reopened);
    } finally {
      await reopened.close();
    }
  } finally {
    tmp.remove();
  }
});

test("a file that is not a SQLite database fails with CORRUPT and is left untouched", async () => {
  const tmp = tempDir("file-garbage");
  try {
    const random = join(tmp.dir, "random.db");
    const noise = randomBytes(16 * 1024);
    noise[0] = 0x00; // never the "SQLite format 3" header by chance
    writeFileSync(random, noise);
    await refusesUntouched(random, "CORRUPT");

    const text = join(tmp.dir, "notes.db");
    writeFileSync(text, "These are my notes, not a database.\n".repeat(200));
    await refusesUntouched(text, "CORRUPT");

    const short = join(tmp.dir, "short.db");
    writeFileSync(short, "hi\n");
    await refusesUntouched(short, "CORRUPT");
  } finally {
    tmp.remove();
  }
});

test("an empty 0-byte file is initialised as a new store", async () => {
  const tmp = tempDir("file-empty");
  try {
    const path = join(tmp.dir, "empty.db");
    writeFileSync(path, "");
    assert.equal(statSync(path).size, 0);
    const store = await openStore({ backend: "sqlite", path, sweepIntervalMs: 0 });
    try {
      await writeSample(store);
      await checkSample(store);
    } finally {
      await store.close();
    }
    assert.deepEqual(fileIdentity(path), STOWAGE_IDENTITY);
    const reopened = await openStore({ backend: "sqlite", path, sweepIntervalMs: 0 });
    try {
      await checkSample(reopened);
    } finally {
      await reopened.close();
    }
  } finally {
    tmp.remove();
  }
});

test("processes opening the same new file at the same moment all succeed and share one schema", async (t) => {
  const ROUNDS = 15;
  const OPENERS = 6;
  const tmp = tempDir("file-race");
  const openers: Child[] = [];
  try {
    for (let i = 0; i < OPENERS; i++) openers.push(startChild("opener", [`opener-${i}`]));
    await waitAllFor(openers, "ready", 15_000);
    type Outcome = { path: string; ok: true; schemaVersion: number } | { path: string; ok: false; code: string; message: string };
    const failures: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // A new file in a missing folder each round; every opener gets the command at the same moment.
      const path = join(tmp.dir, `round-${round}`, "new.db");
      const command = `open ${path}`;
      for (const opener of openers) opener.send(command);
      const outcomes: Outcome[] = [];
      for (const [i, opener] of openers.entries()) {
        const answered = (lines: readonly string[]) => lines.some((line) => line.startsWith("{") && (JSON.parse(line) as Outcome).path === path);
        assert.ok(await opener.waitFor(answered, 20_000), `round ${round}: opener ${i} did not answer\n${opener.describe()}`);
        const outcome = opener.lines
          .filter((line) => line.startsWith("{"))
          .map((line) => JSON.parse(line) as Outcome)
          .find((candidate) => candidate.path === path);
        outcomes.push(outcome as Outcome);
      }
      outcomes.forEach((outcome, i) => {
        if (!outcome.ok) failures.push(`round ${round}, opener ${i}: ${outcome.code}: ${outcome.message}`);
        else assert.equal(outcome.schemaVersion, SCHEMA_VERSION);
      });

      assert.deepEqual(fileIdentity(path), STOWAGE_IDENTITY, `round ${round}: the schema`);
      const store = await openStore({ backend: "sqlite", path, sweepIntervalMs: 0 });
      try {
        const page = await store.kv("openers", { codec: utf8 }).list();
        const expected = outcomes.flatMap((outcome, i) => (outcome.ok ? [{ key: `opener-${i}`, value: `opened by opener-${i}` }] : []));
        assert.deepEqual(page.entries, expected, `round ${round}: the openers' writes`);
      } finally {
        await store.close();
      }
    }
    for (const opener of openers) opener.send("exit");
    const exits = await Promise.all(openers.map((opener) => opener.finish(10_000)));
    exits.forEach((exit, i) => assert.deepEqual(exit, { code: 0, signal: null }, `opener ${i}\n${(openers[i] as Child).describe()}`));
    t.diagnostic(`${ROUNDS} rounds of ${OPENERS} processes: ${failures.length} failed opens`);
    assert.deepEqual(failures, [], `${failures.length} of ${ROUNDS * OPENERS} concurrent opens of a new file failed`);
  } finally {
    await killAll(openers);
    tmp.remove();
  }
});

test('durability "process" (and an explicit "full") open, write and reopen; other values are refused', async () => {
  const tmp = tempDir("file-durability");
  try {
    for (const durability of ["process", "full"] as const) {
      const path = join(tmp.dir, `${durability}.db`);
      const store = await openStore({ backend: "sqlite", path, durability, sweepIntervalMs: 0 });
      try {
        await writeSample(store);
        // Several writes in one turn share a commit.
        const kv = store.kv("many", { codec: utf8 });
        await Promise.all(Array.from({ length: 50 }, (_, i) => kv.put(`key-${i}`, `value-${i}`)));
      } finally {
        await store.close();
      }
      // Either level opens a file written at the other.
      const other = durability === "process" ? "full" : "process";
      const reopened = await openStore({ backend: "sqlite", path, durability: other, sweepIntervalMs: 0 });
      try {
        await checkSample(reopened);
        assert.equal(await reopened.kv("many").count(), 50);
        assert.equal(await reopened.kv("many", { codec: utf8 }).get("key-49"), "value-49");
      } finally {
        await reopened.close();
      }
    }
    const path = join(tmp.dir, "never.db");
    await rejectsWith(openStore({ backend: "sqlite", path, durability: "fast" as never }), "INVALID_ARGUMENT");
    assert.equal(existsSync(path), false, "a refused option creates no file");
  } finally {
    tmp.remove();
  }
});

test("a write lock held by another connection makes writes fail with BACKEND_UNAVAILABLE after busyTimeoutMs", async () => {
  const tmp = tempDir("file-busy");
  const path = join(tmp.dir, "busy.db");
  const store = await openStore({ backend: "sqlite", path, busyTimeoutMs: 200, sweepIntervalMs: 0 });
  const other = new Database(path, { timeout: 0 });
  try {
    const kv = store.kv("k", { codec: utf8 });
    await kv.put("before", "committed before the lock");

    other.exec("BEGIN IMMEDIATE");
    try {
      const started = Date.now();
      const [single, ...grouped] = await Promise.allSettled([
        kv.put("during", "must not be written"),
        store.log("l").append("a", new Uint8Array([1])),
        store.slot("s").cas("a", 0, new Uint8Array([1])),
      ]);
      const elapsed = Date.now() - started;
      for (const outcome of [single, ...grouped]) {
        assert.equal(outcome?.status, "rejected");
        const reason = (outcome as PromiseRejectedResult).reason as unknown;
        assert.ok(isStowageError(reason, "BACKEND_UNAVAILABLE"), `expected BACKEND_UNAVAILABLE, got ${String(reason)}`);
      }
      assert.ok(elapsed >= 150, `the writes gave up after ${elapsed} ms, before the 200 ms busy timeout`);
      assert.ok(elapsed < 5_000, `the writes took ${elapsed} ms to give up`);

      // A transaction cannot start either; reads do not wait for the lock.
      await rejectsWith(
        store.transaction(async (tx) => tx.kv("k", { codec: utf8 }).put("during-tx", "must not be written")),
        "BACKEND_UNAVAILABLE",
      );
      assert.equal(await kv.get("before"), "committed before the lock");
    } finally {
      other.exec("ROLLBACK");
    }

    // The lock is gone: the same store writes again, and nothing of the failed writes is there.
    assert.equal(await kv.get("during"), undefined);
    assert.equal(await kv.get("during-tx"), undefined);
    assert.equal(await store.log("l").lastSeq(), 0);
    await kv.put("after", "committed after the lock");
    assert.equal(await kv.get("after"), "committed after the lock");
    assert.equal(await store.log("l").append("a", new Uint8Array([2])), 1);
    assert.equal(await store.slot("s").cas("a", 0, new Uint8Array([2])), true);
    assert.equal(await store.transaction(async (tx) => tx.kv("k", { codec: utf8 }).get("after")), "committed after the lock");
  } finally {
    other.close();
    await store.close();
    tmp.remove();
  }
});

/** Overwrites `length` bytes of page `page` (1-based) at `offset` within it with 0xFF. */
function damagePage(path: string, pageSize: number, page: number, offset: number, length: number): void {
  const file = readFileSync(path);
  file.fill(0xff, (page - 1) * pageSize + offset, (page - 1) * pageSize + offset + length);
  writeFileSync(path, file);
}

/** A closed store file (WAL folded back in) holding 2,000 KV entries; its page size and stowage_kv's leaf pages. */
async function storeWithPages(path: string): Promise<{ pageSize: number; leaves: number[] }> {
  const store = await openStore({ backend: "sqlite", path, sweepIntervalMs: 0 });
  await store.transaction(async (tx) => {
    for (let i = 0; i < 2_000; i++) await tx.kv("pages", { codec: utf8 }).put(`key-${String(i).padStart(5, "0")}`, `value ${i} ${"v".repeat(80)}`);
  });
  await store.close();
  const db = new Database(path);
  try {
    db.pragma("wal_checkpoint(TRUNCATE)");
    const pageSize = db.pragma("page_size", { simple: true }) as number;
    const leaves = (db.prepare("SELECT pageno FROM dbstat WHERE name = 'stowage_kv' AND pagetype = 'leaf' ORDER BY pageno").all() as Array<{ pageno: number }>).map((row) => row.pageno);
    return { pageSize, leaves };
  } finally {
    db.close();
  }
}

test("a SQLite file whose schema page is damaged fails with CORRUPT at open and is left untouched", async () => {
  const tmp = tempDir("file-damaged-schema");
  try {
    const path = join(tmp.dir, "store.db");
    const { pageSize } = await storeWithPages(path);
    // Page 1 holds the file header (100 bytes) and then the schema table's b-tree page: break that page's header.
    damagePage(path, pageSize, 1, 100, 12);
    await refusesUntouched(path, "CORRUPT");
  } finally {
    tmp.remove();
  }
});

test("a SQLite file with a damaged data page: reads and writes that reach it fail with CORRUPT, the rest works, nothing is overwritten", async () => {
  const tmp = tempDir("file-damaged-data");
  try {
    const path = join(tmp.dir, "store.db");
    const { pageSize, leaves } = await storeWithPages(path);
    assert.ok(leaves.length > 10, `expected many leaf pages, got ${leaves.length}`);
    const page = leaves[Math.floor(leaves.length / 2)] as number;
    damagePage(path, pageSize, page, 0, 16);

    // Data pages are checked as they are read (a full check at every open would cost a read of the whole file).
    const store = await openStore({ backend: "sqlite", path, sweepIntervalMs: 0 });
    try {
      const kv = store.kv("pages", { codec: utf8 });
      let damaged: string | undefined;
      let intact = 0;
      for (let i = 0; i < 2_000; i++) {
        const key = `key-${String(i).padStart(5, "0")}`;
        try {
          assert.equal(await kv.get(key), `value ${i} ${"v".repeat(80)}`);
          intact++;
        } catch (error) {
          assert.ok(isStowageError(error, "CORRUPT"), `get ${key}: expected CORRUPT, got ${String(error)}`);
          assert.ok((error as Error).message.includes(resolve(path)), "the message names the file");
          damaged ??= key;
        }
      }
      assert.ok(damaged !== undefined, "no read reached the damaged page");
      assert.ok(intact > 1_500, `only ${intact} of 2,000 keys readable around one damaged page`);
      await rejectsWith(kv.put(damaged, "overwrite?"), "CORRUPT");
      await rejectsWith(kv.list({ limit: 2_000 }), "CORRUPT");
      await rejectsWith(store.transaction(async (tx) => tx.kv("pages").delete(damaged as string)), "CORRUPT");
      // Writes elsewhere in the file still work (they land in the WAL, not on the damaged page).
      await store.kv("other", { codec: utf8 }).put("k", "v");
      assert.equal(await store.kv("other", { codec: utf8 }).get("k"), "v");
    } finally {
      await store.close();
    }
    const db = new Database(path, { readonly: true });
    try {
      assert.notEqual(db.pragma("integrity_check", { simple: true }), "ok", "the damage is still there to be found, not papered over");
    } finally {
      db.close();
    }
    const start = (page - 1) * pageSize;
    assert.ok(readFileSync(path).subarray(start, start + 16).every((byte) => byte === 0xff), "the damaged page was overwritten");
  } finally {
    tmp.remove();
  }
});

test("store.check() and `stowage check` report a broken invariant and a damaged page", async () => {
  const tmp = tempDir("file-check");
  try {
    const path = join(tmp.dir, "store.db");
    const { pageSize, leaves } = await storeWithPages(path);
    let store = await openStore({ backend: "sqlite", path, sweepIntervalMs: 0 });
    await store.queue("jobs").push("q", new Uint8Array([1]));
    assert.deepEqual(await store.check(), { ok: true, problems: [] });
    await store.close();

    // A kept queue length that disagrees with the items (as a bug or a hand edit would leave it).
    const db = new Database(path);
    db.prepare("UPDATE stowage_queue_len SET len = 7 WHERE ns = 'jobs'").run();
    db.close();
    store = await openStore({ backend: "sqlite", path, sweepIntervalMs: 0 });
    const report = await store.check();
    await store.close();
    assert.equal(report.ok, false);
    assert.equal(report.problems.length, 1, report.problems.join("\n"));
    assert.match(report.problems[0] as string, /kept length equals its items: broken by .*"jobs".*"kept":7.*"items":1/);

    // A stream segment whose row disagrees with its entries.
    store = await openStore({ backend: "sqlite", path, sweepIntervalMs: 0 });
    await store.stream("events").produce("sp", "g", [{ value: new Uint8Array([1]) }, { value: new Uint8Array([2]) }]);
    await store.close();
    const edit = new Database(path);
    edit.prepare("DELETE FROM stowage_stream WHERE seq = 1").run();
    edit.close();
    store = await openStore({ backend: "sqlite", path, sweepIntervalMs: 0 });
    const streamReport = await store.check();
    await store.close();
    assert.ok(streamReport.problems.some((line) => line.startsWith("a stream segment's row matches its entries")), streamReport.problems.join("\n"));

    // A damaged data page: SQLite's own check speaks, and the CLI exits 1 with CORRUPT after printing the report.
    damagePage(path, pageSize, leaves[1] as number, 0, 16);
    store = await openStore({ backend: "sqlite", path, sweepIntervalMs: 0 });
    const damaged = await store.check();
    await store.close();
    assert.ok(damaged.problems.some((line) => line.startsWith("SQLite integrity_check:")), damaged.problems.join("\n"));
    const cli = spawnSync(process.execPath, [join("dist", "src", "cli", "main.js"), "--storage-path", path, "check"], { encoding: "utf8" });
    assert.equal(cli.status, 1, cli.stderr);
    assert.match(cli.stdout, /SQLite integrity_check:/);
    assert.match(cli.stderr, /^error CORRUPT: \d+ problem\(s\) found/);
  } finally {
    tmp.remove();
  }
});

test("stream compression: compressible values are stored deflated and marked, others as given", async () => {
  const tmp = tempDir("file-deflate");
  try {
    const path = join(tmp.dir, "store.db");
    const store = await openStore({ backend: "sqlite", path, sweepIntervalMs: 0 });
    const long = "compressible ".repeat(500);
    await store.stream("s", { codec: utf8, compression: "deflate" }).produce("sp", "g", [{ value: long }, { value: "tiny" }]);
    await store.stream("s", { codec: utf8 }).produce("sp", "g", [{ value: long }]);
    await store.close();
    const db = new Database(path, { readonly: true });
    try {
      const rows = db.prepare("SELECT seq, length(value) AS bytes, compression FROM stowage_stream ORDER BY seq").all();
      assert.equal((rows[0] as { compression: string }).compression, "deflate");
      assert.ok((rows[0] as { bytes: number }).bytes < long.length / 10, `stored ${(rows[0] as { bytes: number }).bytes} bytes`);
      assert.deepEqual(rows.slice(1), [
        { seq: 2, bytes: 4, compression: null },
        { seq: 3, bytes: long.length, compression: null },
      ]);
    } finally {
      db.close();
    }
  } finally {
    tmp.remove();
  }
});
