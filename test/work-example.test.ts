/**
 * examples/work-queue: its real entry point, main.js, run as a process — two worker processes on one SQLite file, the
 * one that starts job 7 SIGKILLed in the middle of it. Every job must be done by a worker that lived to finish it,
 * job 7 by the other worker on its attempt 2.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { startChild } from "./helpers/child.js";

/** startChild resolves names from the compiled test/fixtures folder: this is the compiled examples/work-queue/main.js. */
const MAIN = "../../examples/work-queue/main";
const JOBS = 20;
const KILL_AT = 7;

test("work-queue example: a worker SIGKILLed mid-job loses nothing; the other finishes its job on attempt 2", async () => {
  const child = startChild(MAIN, []);
  try {
    const exit = await child.finish(60_000);
    assert.equal(exit.code, 0, child.describe());
  } finally {
    child.kill("SIGKILL");
    await child.exited;
  }
  const lines = child.lines;
  const output = lines.join("\n");
  const kills = lines.flatMap((line, at) => {
    const match = /^main: SIGKILL worker (\d+) \(pid \d+\) in the middle of job (\d+)$/.exec(line);
    return match === null ? [] : [{ at, victim: match[1]!, job: Number(match[2]) }];
  });
  assert.equal(kills.length, 1, output);
  const kill = kills[0]!;
  assert.equal(kill.job, KILL_AT);
  assert.ok(lines.slice(0, kill.at).includes(`worker ${kill.victim}: started job ${KILL_AT} (attempt 1)`), output);
  // The killed worker printed nothing after its kill, so each job it is credited with it finished while alive.
  assert.ok(!lines.slice(kill.at + 1).some((line) => line.startsWith(`worker ${kill.victim}:`)), output);

  const done = new Map<number, Array<{ worker: string; attempt: number }>>();
  for (const line of lines) {
    const match = /^worker (\d+): done job (\d+) \(attempt (\d+)\)$/.exec(line);
    if (match === null) continue;
    const n = Number(match[2]);
    done.set(n, [...(done.get(n) ?? []), { worker: match[1]!, attempt: Number(match[3]) }]);
  }
  assert.deepEqual([...done.keys()].sort((a, b) => a - b), Array.from({ length: JOBS }, (_, i) => i + 1), `every job done\n${output}`);
  const survivor = kill.victim === "1" ? "2" : "1";
  assert.deepEqual(done.get(KILL_AT), [{ worker: survivor, attempt: 2 }], output);
  assert.match(output, new RegExp(`main: ${JOBS} of ${JOBS} jobs done`));
  assert.ok(lines.includes(`worker ${survivor}: stopped`), `the survivor stops cleanly on SIGTERM\n${output}`);
});
