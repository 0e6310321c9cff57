/**
 * A service moves from SQLite to etcd or Redis by changing one line of its config file: the file carries each
 * engine's settings (every backend takes only its own), and the `backend` line picks the engine. The CLI's main job
 * (`stowage demo`) runs on each in turn against real servers started for this file, and its writes are read back
 * through `openStore` on the engine it reached.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { runCli } from "../src/cli/run-cli.js";
import { DEMO_NAMESPACE } from "../src/cli/demo-command.js";
import { json, openStore, type OpenStoreOptions } from "../src/index.js";
import { useEtcdServer } from "./helpers/etcd-server.js";
import { useRedisServer } from "./helpers/redis-server.js";

const etcd = useEtcdServer();
const redis = useRedisServer();
let dir = "";

before(() => {
  dir = mkdtempSync(join(tmpdir(), "stowage-switch-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function cli(args: readonly string[], configFile: string): Promise<string> {
  let stdout = "";
  let stderr = "";
  const code = await runCli(args, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: { STOWAGE_CONFIG: configFile }, cwd: dir });
  assert.equal(code, 0, `stowage ${args.join(" ")} exited ${code}: ${stderr}`);
  return stdout;
}

test("one changed line of the config file moves the main job from sqlite to etcd and to redis", async () => {
  const file = join(dir, "stowage.yaml");
  const lines = [
    "storage:",
    "  backend: sqlite",
    `  path: ${join(dir, "state.db")}`,
    `  endpoints: ${etcd().endpoint}`,
    `  url: ${redis().url}`,
    "  prefix: orders/",
  ];
  const reached: Record<string, OpenStoreOptions> = {
    sqlite: { backend: "sqlite", path: join(dir, "state.db") },
    etcd: { backend: "etcd", endpoints: etcd().endpoint, prefix: "orders/" },
    redis: { backend: "redis", url: redis().url, prefix: "orders/" },
  };
  for (const backend of ["sqlite", "etcd", "redis"]) {
    const previous = readFileSync(file, { encoding: "utf8", flag: "a+" });
    writeFileSync(file, lines.map((line) => (line.startsWith("  backend:") ? `  backend: ${backend}` : line)).join("\n") + "\n");
    if (previous !== "") {
      const changed = readFileSync(file, "utf8").split("\n").filter((line, i) => line !== previous.split("\n")[i]);
      assert.deepEqual(changed, [`  backend: ${backend}`], "only the backend line changed");
    }
    const out = await cli(["demo"], file);
    assert.match(out, new RegExp(`on the ${backend} store`));
    assert.match(await cli(["info"], file), new RegExp(`engine\\s+${backend}`));
    const store = await openStore(reached[backend]!);
    try {
      const checkpoint = await store.kv(DEMO_NAMESPACE, { codec: json<{ offset: number }>() }).get("checkpoint/orders");
      assert.ok(checkpoint !== undefined && checkpoint.offset > 0, `the demo's checkpoint is on ${backend}`);
    } finally {
      await store.close();
    }
  }
});
