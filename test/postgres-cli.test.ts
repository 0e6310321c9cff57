import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { tempDir } from "./helpers/child.js";
import { startPostgres, type PostgresServer } from "./helpers/postgres-server.js";

// The CLI and its configuration layers reaching a real PostgreSQL server.
const MAIN = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));
const CLEAN_ENV = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("STOWAGE_")));

let server: PostgresServer | undefined;
const tmp = tempDir("pg-cli");
before(async () => {
  server = await startPostgres();
});
after(() => {
  server?.destroy();
  tmp.remove();
});

function stowage(args: readonly string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [MAIN, ...args], { cwd: tmp.dir, env: { ...CLEAN_ENV, ...env }, encoding: "utf8" }, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== "number") return reject(error);
      resolve({ code: error === null ? 0 : (error.code as number), stdout, stderr });
    });
  });
}

test("flags, environment and a config file each select the postgres backend", async () => {
  const dsn = (server as PostgresServer).dsn;
  const put = await stowage(["kv", "put", "ns", "k", "from flags", "--storage-backend", "postgres", "--storage-dsn", dsn, "--storage-schema", "cli"]);
  assert.equal(put.code, 0, put.stderr);

  const env = { STOWAGE_STORAGE_BACKEND: "postgres", STOWAGE_STORAGE_DSN: dsn, STOWAGE_STORAGE_SCHEMA: "cli" };
  const get = await stowage(["kv", "get", "ns", "k"], env);
  assert.deepEqual([get.code, get.stdout], [0, "from flags\n"]);

  writeFileSync(join(tmp.dir, "pg.yaml"), `storage:\n  backend: postgres\n  dsn: "${dsn}"\n  schema: cli\n  poolSize: 2\n`);
  const info = await stowage(["info", "--json", "--config", "pg.yaml"]);
  assert.equal(info.code, 0, info.stderr);
  const parsed = JSON.parse(info.stdout) as { engine: string; location: string; namespaces: unknown[] };
  assert.equal(parsed.engine, "postgres");
  assert.match(parsed.location, /schema cli/);
  assert.deepEqual(parsed.namespaces, [{ primitive: "kv", namespace: "ns", count: 1 }]);
});

test("a postgres backend without a DSN, or an unreachable server, exits 1 with the code", async () => {
  const missing = await stowage(["info"], { STOWAGE_STORAGE_BACKEND: "postgres" });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^error INVALID_ARGUMENT: .*STOWAGE_STORAGE_DSN/);
  // Port 1 on loopback: nothing listens there, so the connection is refused at once.
  const refused = await stowage(["info", "--storage-backend", "postgres", "--storage-dsn", "postgres://stowage@127.0.0.1:1/postgres", "--storage-connect-timeout-ms", "1000"]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^error BACKEND_UNAVAILABLE: /);
});
