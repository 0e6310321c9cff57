/**
 * Live feeds end cleanly: after an abort, a `break` or a close, a process that started every kind of feed exits by
 * itself (test/fixtures/feed-exit.ts never calls process.exit): no poll timer, LISTEN connection or waiter is left.
 * On SQLite the store is not even closed after an abort or a break: the feeds alone must have released everything.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import type { OpenStoreOptions } from "../src/index.js";
import pg from "pg";
import { startChild, tempDir } from "./helpers/child.js";
import { usePostgresServer } from "./helpers/postgres-server.js";

const pgServer = usePostgresServer();

async function exitsByItself(options: OpenStoreOptions, mode: "abort" | "break" | "close", closeAfter: boolean): Promise<void> {
  const child = startChild("feed-exit", [JSON.stringify(options), mode, closeAfter ? "yes" : "no"]);
  const exit = await child.finish(20_000);
  assert.deepEqual(exit, { code: 0, signal: null }, `${mode}: the process did not end by itself\n${child.describe()}`);
  assert.ok(child.lines.includes("ended"), child.describe());
}

for (const mode of ["abort", "break", "close"] as const) {
  test(`sqlite: after ${mode}, a process with every kind of feed exits by itself`, async () => {
    const tmp = tempDir("feed-exit");
    try {
      await exitsByItself({ backend: "sqlite", path: join(tmp.dir, "store.db") }, mode, false);
    } finally {
      tmp.remove();
    }
  });

  test(`postgres: after ${mode} (and close), a process with every kind of feed exits by itself`, async () => {
    await exitsByItself({ backend: "postgres", dsn: pgServer().dsn, schema: `feed_exit_${mode}` }, mode, true);
  });
}

test("postgres: a LISTEN connection whose server side stalls does not keep a closed store's process alive", async () => {
  const schema = "feed_exit_stall";
  const child = startChild("feed-exit", [JSON.stringify({ backend: "postgres", dsn: pgServer().dsn, schema }), "close", "yes", "pause"]);
  const observer = new pg.Client({ connectionString: pgServer().dsn, connectionTimeoutMillis: 10_000 });
  let stalled: number | undefined;
  try {
    assert.ok(await child.waitFor((lines) => lines.includes("feeding"), 20_000), child.describe());
    await observer.connect();
    const { rows } = await observer.query<{ pid: number }>(`SELECT pid FROM ${schema}.stowage_listeners`);
    assert.equal(rows.length, 1, "one listening backend");
    stalled = rows[0]?.pid as number;
    process.kill(stalled, "SIGSTOP"); // the server's side of the LISTEN connection stops answering
    child.send("go");
    const exit = await child.finish(20_000);
    assert.deepEqual(exit, { code: 0, signal: null }, `the process did not end by itself\n${child.describe()}`);
  } finally {
    if (stalled !== undefined) process.kill(stalled, "SIGCONT");
    child.kill();
    await observer.end();
  }
});
