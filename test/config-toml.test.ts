/**
 * TOML config files (`*.toml`, parsed by smol-toml): the same fields, checks and relative paths as YAML and JSON;
 * a malformed file or a redefined key is INVALID_ARGUMENT naming the file and the place.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { isStowageError } from "../src/api/errors.js";
import { loadConfig } from "../src/config/index.js";

const dir = mkdtempSync(join(tmpdir(), "stowage-toml-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function refused(run: () => unknown, ...parts: string[]): void {
  assert.throws(run, (error: unknown) => isStowageError(error, "INVALID_ARGUMENT") && parts.every((part) => error.message.includes(part)));
}

test("a TOML file sets the storage fields, its relative path from the file's folder; flags still win", () => {
  writeFileSync(join(dir, "stowage.toml"), '# the service\n[storage]\nbackend = "sqlite"\npath = "./state.db"\ndurability = "process"\nbusyTimeoutMs = 3000\n');
  assert.deepEqual(loadConfig({ cwd: "/", env: { STOWAGE_CONFIG: join(dir, "stowage.toml") } }), {
    backend: "sqlite",
    path: join(dir, "state.db"),
    durability: "process",
    busyTimeoutMs: 3000,
  });
  assert.deepEqual(loadConfig({ cwd: dir, env: {}, argvFlags: { config: "stowage.toml", "storage-backend": "memory" } }), { backend: "memory" });
});

test("TOML values are checked like any other: a wrong type, an unknown field, a malformed file and a redefined key are refused", () => {
  writeFileSync(join(dir, "type.toml"), '[storage]\nbackend = "sqlite"\nbusyTimeoutMs = "soon"\n');
  refused(() => loadConfig({ cwd: dir, env: {}, argvFlags: { config: "type.toml" } }), "storage.busyTimeoutMs", "type.toml");
  writeFileSync(join(dir, "unknown.toml"), '[storage]\nbackend = "sqlite"\npth = "x.db"\n');
  refused(() => loadConfig({ cwd: dir, env: {}, argvFlags: { config: "unknown.toml" } }), "unknown field storage.pth in unknown.toml");
  writeFileSync(join(dir, "broken.toml"), '[storage]\nbackend = "sqlite\n');
  refused(() => loadConfig({ cwd: dir, env: {}, argvFlags: { config: "broken.toml" } }), "broken.toml (from --config) is not valid TOML");
  writeFileSync(join(dir, "twice.toml"), '[storage]\nbackend = "sqlite"\nbackend = "memory"\n');
  refused(() => loadConfig({ cwd: dir, env: {}, argvFlags: { config: "twice.toml" } }), "twice.toml (from --config) is not valid TOML", "redefine", "line 3");
});
