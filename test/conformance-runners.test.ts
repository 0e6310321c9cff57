/**
 * The exported conformance suite under other test runners: `npx mocha` and `npx vitest run`, in child processes, on
 * the spec files of test/fixtures (plain JavaScript importing `stowage/conformance` from the built package, on the
 * memory engine). Each must pass with the full case count, and report the skipped cases when the engine's manifest
 * declares no KV history.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { describeSkips, planConformance } from "../src/conformance/index.js";
import { MemoryEngine } from "../src/engines/memory/memory-engine.js";
import { declaring } from "./helpers/declared-engine.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const MOCHA_SPEC = "test/fixtures/conformance-mocha.spec.js";
const VITEST_CONFIG = "test/fixtures/conformance-vitest.config.js";
/** The longest a runner may take before the test stops it (measured: mocha ~5 s, vitest ~15 s on a loaded machine). */
const RUNNER_TIMEOUT_MS = 180_000;

/** What a runner reported: every test by its full title, and whether it passed or was skipped. */
interface RunnerReport {
  passed: string[];
  skipped: string[];
  failed: string[];
}

type Manifest = "full" | "no-kv-history";

/**
 * Runs `npx <args>` in its own process group, stopped (the whole group: npx, the runner, its workers) when it takes
 * longer than RUNNER_TIMEOUT_MS or once it has exited. Resolves to its exit code and output.
 */
function runNpx(args: string[], manifest: Manifest): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, STOWAGE_CONFORMANCE_MANIFEST: manifest, NO_COLOR: "1" };
  // node --test marks its children; the runners' processes are not node:test's.
  delete env.NODE_TEST_CONTEXT;
  const child = spawn("npx", ["--no-install", ...args], { cwd: ROOT, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const stopGroup = () => {
    try {
      process.kill(-(child.pid as number), "SIGKILL");
    } catch {
      // The group is gone already.
    }
  };
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const timer = setTimeout(stopGroup, RUNNER_TIMEOUT_MS);
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      stopGroup();
      resolve({ code, stdout, stderr });
    });
  });
}

async function runMocha(manifest: Manifest): Promise<RunnerReport> {
  const run = await runNpx(["mocha", "--no-config", "--no-package", "--timeout", "60000", "--reporter", "json", MOCHA_SPEC], manifest);
  assert.equal(run.code, 0, `mocha failed:\n${run.stdout}\n${run.stderr}`);
  // Only mocha's JSON is on stdout: node:test, had the suite loaded it, would have printed its own report there too.
  const report = JSON.parse(run.stdout) as { passes: Array<{ fullTitle: string }>; pending: Array<{ fullTitle: string }>; failures: Array<{ fullTitle: string }> };
  return { passed: report.passes.map((t) => t.fullTitle), skipped: report.pending.map((t) => t.fullTitle), failed: report.failures.map((t) => t.fullTitle) };
}

async function runVitest(manifest: Manifest): Promise<RunnerReport> {
  const dir = mkdtempSync(join(tmpdir(), "stowage-vitest-"));
  try {
    const output = join(dir, "report.json");
    const run = await runNpx(["vitest", "run", "--config", VITEST_CONFIG, "--reporter=json", `--outputFile=${output}`], manifest);
    assert.equal(run.code, 0, `vitest failed:\n${run.stdout}\n${run.stderr}`);
    const report = JSON.parse(readFileSync(output, "utf8")) as { testResults: Array<{ assertionResults: Array<{ status: string; fullName: string }> }> };
    const tests = report.testResults.flatMap((file) => file.assertionResults);
    const titled = (status: string) => tests.filter((t) => t.status === status).map((t) => t.fullName);
    return { passed: titled("passed"), skipped: [...titled("skipped"), ...titled("pending")], failed: titled("failed") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The report must show every case of the suite: run, or skipped for a capability the manifest lacks (and saying so). */
function assertComplete(runner: string, report: RunnerReport, manifest: Manifest): void {
  const supports = manifest === "full" ? MemoryEngine.supports : declaring({ kvHistory: false });
  const plan = planConformance(supports);
  const skipping = plan.filter((c) => c.missing.length > 0);
  assert.deepEqual(report.failed, [], `${runner}: failed cases`);
  // Every case, plus the first one that checks the manifest and names what is skipped.
  assert.equal(report.passed.length + report.skipped.length, plan.length + 1, `${runner}: the full case count`);
  assert.equal(report.skipped.length, skipping.length, `${runner}: skipped cases`);
  for (const { name, missing } of skipping) {
    assert.ok(report.skipped.some((title) => title.includes(`${name} (skipped: the engine has no ${missing.join(", ")})`)), `${runner} skipped "${name}" saying why`);
  }
  const summary = manifest === "full" ? "every group runs" : `skipped: ${describeSkips(plan).join("; ")}`;
  assert.ok(report.passed.some((title) => title.includes(`manifest: the store reports the declared one; ${summary}`)), `${runner} names the skipped groups: ${summary}`);
}

test("the exported conformance suite passes under mocha, every case, and reports the cases a manifest without KV history skips", { timeout: 2 * RUNNER_TIMEOUT_MS + 30_000 }, async () => {
  const full = await runMocha("full");
  assertComplete("mocha", full, "full");
  assert.equal(full.skipped.length, 0);
  const noHistory = await runMocha("no-kv-history");
  assertComplete("mocha", noHistory, "no-kv-history");
  assert.ok(noHistory.skipped.length > 0 && noHistory.skipped.every((title) => title.includes("kvHistory")));
});

test("the exported conformance suite passes under vitest, every case, and reports the cases a manifest without KV history skips", { timeout: 2 * RUNNER_TIMEOUT_MS + 30_000 }, async () => {
  const full = await runVitest("full");
  assertComplete("vitest", full, "full");
  assert.equal(full.skipped.length, 0);
  const noHistory = await runVitest("no-kv-history");
  assertComplete("vitest", noHistory, "no-kv-history");
  assert.ok(noHistory.skipped.length > 0 && noHistory.skipped.every((title) => title.includes("kvHistory")));
});
