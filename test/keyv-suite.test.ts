/**
 * The published @keyv/test-suite against stowage's Keyv store: its functions take vitest's module, so
 * test/fixtures/keyv-vitest.spec.js runs them under `npx vitest run` in a child process (on the built package), on
 * SQLite and memory. The run must pass with every case the suite defines: counted here by calling the suite's own
 * functions with a recorder in place of vitest.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import Keyv from "keyv";
import { keyvApiTests, keyvIteratorTests, keyvNamespaceTest, keyvValueTests } from "@keyv/test-suite";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const VITEST_CONFIG = "test/fixtures/keyv-vitest.config.js";
/** The longest the run may take before the test stops it (measured: ~10 s on a loaded machine). */
const RUNNER_TIMEOUT_MS = 180_000;
const ENGINES = ["sqlite", "memory"];

/** The groups the spec runs, by the name it gives them, with the suite function that defines each. */
const GROUPS = { api: keyvApiTests, values: keyvValueTests, namespaces: keyvNamespaceTest, iterator: keyvIteratorTests };

/** The titles of the cases a suite function defines: it is called with a recorder for vitest's `it` and hooks. */
function caseTitles(group: (typeof GROUPS)[keyof typeof GROUPS]): string[] {
  const titles: string[] = [];
  const recorder = { it: (title: string) => titles.push(title), beforeEach: () => {}, afterEach: () => {} };
  group(recorder as never, Keyv, () => ({}));
  return titles;
}

/** Runs `npx vitest run` on the spec in its own process group (stopped after the run or on timeout); its JSON report. */
async function runSuite(): Promise<Array<{ status: string; fullName: string }>> {
  const dir = mkdtempSync(join(tmpdir(), "stowage-keyv-vitest-"));
  const output = join(dir, "report.json");
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" };
  delete env.NODE_TEST_CONTEXT;
  const child = spawn("npx", ["--no-install", "vitest", "run", "--config", VITEST_CONFIG, "--reporter=json", `--outputFile=${output}`], {
    cwd: ROOT,
    env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stopGroup = () => {
    try {
      process.kill(-(child.pid as number), "SIGKILL");
    } catch {
      // The group is gone already.
    }
  };
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  const timer = setTimeout(stopGroup, RUNNER_TIMEOUT_MS);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on("error", reject);
      child.on("close", (exit) => resolve(exit));
    });
    assert.equal(code, 0, `vitest failed:\n${out}`);
    const report = JSON.parse(readFileSync(output, "utf8")) as { testResults: Array<{ assertionResults: Array<{ status: string; fullName: string }> }> };
    return report.testResults.flatMap((file) => file.assertionResults);
  } finally {
    clearTimeout(timer);
    stopGroup();
    rmSync(dir, { recursive: true, force: true });
  }
}

test("@keyv/test-suite (api, values, namespaces, iterator) passes unchanged against KeyvStowage on SQLite and memory, every case", { timeout: RUNNER_TIMEOUT_MS + 30_000 }, async () => {
  const results = await runSuite();
  assert.deepEqual(results.filter((r) => r.status !== "passed").map((r) => `${r.status}: ${r.fullName}`), []);
  const passed = new Set(results.map((r) => r.fullName));
  let expected = 0;
  for (const engine of ENGINES) {
    for (const [name, group] of Object.entries(GROUPS)) {
      const titles = caseTitles(group);
      assert.ok(titles.length > 0, `the suite's ${name} group defines cases`);
      for (const title of titles) assert.ok(passed.has(`${engine}: ${name} ${title}`), `passed: ${engine}: ${name} ${title}`);
      expected += titles.length;
    }
  }
  assert.equal(results.length, expected);
});
