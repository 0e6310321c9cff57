/**
 * Drivers load on demand: importing stowage loads neither better-sqlite3 nor pg; each loads when its engine opens;
 * a driver that is missing (or does not load) is NOT_SUPPORTED naming the package and its install command.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { runCli } from "../src/cli/run-cli.js";
import { engineDescriptors, loadDriver, openStore, registerEngine, StowageError } from "../src/index.js";
import { MemoryEngine } from "../src/engines/memory/memory-engine.js";
import { fixturePath, tempDir } from "./helpers/child.js";

const NO_SUCH_PACKAGE = "stowage-test-no-such-driver";

interface ProbeLine {
  step: "import" | "memory" | "sqlite" | "postgres";
  drivers: string[];
  outcome?: "opened" | { code: string; message: string };
  folderCreated?: boolean;
}

/** Runs the probe fixture under the driver hooks in `mode`; its lines by step. */
function probe(mode: string, dir: string): Promise<Record<ProbeLine["step"], ProbeLine>> {
  const args = ["--import", fixturePath("driver-hooks-register"), fixturePath("driver-probe"), dir];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { env: { ...process.env, DRIVER_HOOK: mode }, encoding: "utf8", timeout: 60_000 }, (error, stdout, stderr) => {
      if (error !== null) return reject(new Error(`probe failed: ${error.message}\n${stderr}`));
      const lines = stdout.trim().split("\n").map((line) => JSON.parse(line) as ProbeLine);
      resolve(Object.fromEntries(lines.map((line) => [line.step, line])) as Record<ProbeLine["step"], ProbeLine>);
    });
  });
}

function assertNotSupported(error: unknown, message: string): true {
  assert.ok(error instanceof StowageError, `expected a StowageError, got ${String(error)}`);
  assert.equal(error.code, "NOT_SUPPORTED");
  assert.equal(error.message, `NOT_SUPPORTED: ${message}`);
  return true;
}

describe("drivers in a child process that imports the package by name", { concurrency: true }, () => {
  let temp: ReturnType<typeof tempDir>;
  before(() => (temp = tempDir("drivers")));
  after(() => temp.remove());

  test("importing stowage loads no driver; each engine loads its own driver when it opens", async () => {
    const dir = join(temp.dir, "record");
    mkdirSync(dir);
    const lines = await probe(`record:${join(dir, "modules.txt")}`, dir);
    assert.deepEqual(lines.import.drivers, [], "import 'stowage' loads no driver");
    assert.equal(lines.memory.outcome, "opened");
    assert.deepEqual(lines.memory.drivers, [], "the memory engine needs no driver");
    // The same detection sees the drivers once their engines open: it is not blind.
    assert.equal(lines.sqlite.outcome, "opened");
    assert.deepEqual(lines.sqlite.drivers, ["better-sqlite3"]);
    assert.equal((lines.postgres.outcome as { code: string }).code, "BACKEND_UNAVAILABLE", "pg loaded, then the connection was refused");
    assert.deepEqual(lines.postgres.drivers, ["better-sqlite3", "pg"]);
  });

  test("without the driver packages: memory works; sqlite and postgres are NOT_SUPPORTED naming the package, and nothing is created", async () => {
    const dir = join(temp.dir, "missing");
    const lines = await probe("missing", dir);
    assert.equal(lines.memory.outcome, "opened");
    assert.deepEqual(lines.sqlite.outcome, {
      code: "NOT_SUPPORTED",
      message: 'NOT_SUPPORTED: the sqlite engine needs the npm package "better-sqlite3": npm install better-sqlite3',
    });
    assert.equal(lines.sqlite.folderCreated, false, "a missing driver leaves no folder behind");
    assert.deepEqual(lines.postgres.outcome, { code: "NOT_SUPPORTED", message: 'NOT_SUPPORTED: the postgres engine needs the npm package "pg": npm install pg' });
  });

  test("a driver that is installed but does not load is NOT_SUPPORTED with the reason", async () => {
    const lines = await probe("broken", join(temp.dir, "broken"));
    const sqlite = lines.sqlite.outcome as { code: string; message: string };
    assert.equal(sqlite.code, "NOT_SUPPORTED");
    assert.match(sqlite.message, /the sqlite engine needs the npm package "better-sqlite3", which is installed but does not load \(Could not locate the bindings file of better-sqlite3\); reinstall it: npm install better-sqlite3/);
    assert.equal((lines.postgres.outcome as { code: string }).code, "NOT_SUPPORTED");
    assert.equal(lines.memory.outcome, "opened");
  });
});

describe("loadDriver", () => {
  test("a package that is not installed is NOT_SUPPORTED naming the engine, the package and the install command", async () => {
    await assert.rejects(loadDriver(NO_SUCH_PACKAGE, "fake"), (error) => {
      assertNotSupported(error, `the fake engine needs the npm package "${NO_SUCH_PACKAGE}": npm install ${NO_SUCH_PACKAGE}`);
      assert.equal(((error as Error).cause as NodeJS.ErrnoException).code, "ERR_MODULE_NOT_FOUND", "the driver's error stays as the cause");
      return true;
    });
  });

  test("an installed package is returned as its module namespace", async () => {
    const yaml = await loadDriver<typeof import("yaml")>("yaml", "test");
    assert.equal(yaml.parse("a: 1").a, 1);
  });

  test("an engine whose driver is missing fails to open with NOT_SUPPORTED, from openStore and from the CLI", async () => {
    let opened = 0;
    registerEngine({
      name: "needs-driver",
      summary: "A test engine whose driver package does not exist",
      supports: MemoryEngine.supports,
      fields: [],
      open: async () => {
        await loadDriver(NO_SUCH_PACKAGE, "needs-driver");
        opened += 1;
        return new MemoryEngine();
      },
    });
    assert.ok(engineDescriptors().some((engine) => engine.name === "needs-driver"));
    const message = `the needs-driver engine needs the npm package "${NO_SUCH_PACKAGE}": npm install ${NO_SUCH_PACKAGE}`;
    await assert.rejects(openStore({ backend: "needs-driver" }), (error) => assertNotSupported(error, message));
    assert.equal(opened, 0);

    let stderr = "";
    const code = await runCli(["info", "--storage-backend", "needs-driver"], { stdout: () => undefined, stderr: (text) => void (stderr += text), env: {}, cwd: process.cwd() });
    assert.equal(code, 1);
    assert.equal(stderr, `error NOT_SUPPORTED: ${message}\n`);
  });
});
