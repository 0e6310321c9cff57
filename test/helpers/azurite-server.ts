/**
 * A throwaway Azure Storage emulator for tests: one of the devDependency azurite's services (Table by default, or
 * Blob) on 127.0.0.1 and a free port, its workspace in a fresh temporary folder, telemetry off (no internet here),
 * stopped by its own pid when asked or when the process exits, its folder removed. It can be stopped (SIGINT: azurite
 * saves its database on the way out) or killed (SIGKILL) and started again on the same folder and port. Nothing is
 * mocked.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { accepts, startServerProcess } from "./server-process.js";
import { freePort } from "./postgres-server.js";
import { useServer } from "./use-server.js";

/** The emulator's well-known development account (documented by Microsoft; not a secret). */
export const AZURITE_ACCOUNT = "devstoreaccount1";
export const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/** The azurite service to run. */
export type AzuriteService = "table" | "blob";

export interface AzuriteServer {
  /** `http://127.0.0.1:<port>/devstoreaccount1`. */
  readonly endpoint: string;
  /** A connection string for the development account on this server (its TableEndpoint or BlobEndpoint). */
  readonly connectionString: string;
  readonly port: number;
  readonly running: boolean;
  /** Stops it with SIGINT (azurite's clean shutdown: it saves its database), keeping the folder; waits until it exited. */
  stop(): Promise<void>;
  /** Kills it with SIGKILL (a crash: azurite saves every 5 s, so the last seconds may be lost); waits until it exited. */
  kill(): Promise<void>;
  /** Starts it again on the same port and folder; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Kills it and removes its folder. Idempotent. */
  destroy(): void;
}

const ENDPOINT_FIELD: Record<AzuriteService, string> = { table: "TableEndpoint", blob: "BlobEndpoint" };

/** azurite's server script for `service`, from the installed package. */
function serverScript(service: AzuriteService): string {
  const require = createRequire(import.meta.url);
  const script = join(dirname(require.resolve("azurite/package.json")), "dist", "src", service, "main.js");
  if (!existsSync(script)) throw new Error(`azurite's ${service} server is not at ${script} (is the azurite devDependency installed?)`);
  return script;
}

/**
 * The environment without AZURITE_DB: set (even empty), it makes the blob service keep its metadata in that SQL
 * database instead of the workspace folder.
 */
function localMetadataEnv(): NodeJS.ProcessEnv {
  const { AZURITE_DB: _database, ...env } = process.env;
  return env;
}

/** Starts a fresh emulator of `service` (default table). Throws (never skips) when it cannot start. */
export async function startAzurite(service: AzuriteService = "table"): Promise<AzuriteServer> {
  const script = serverScript(service);
  const dir = mkdtempSync(join(tmpdir(), `stowage-azurite-${service}-`));
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  const connectionString = `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};${ENDPOINT_FIELD[service]}=${endpoint};`;
  const args = [script, `--${service}Host`, "127.0.0.1", `--${service}Port`, String(port), "--location", dir, "--disableTelemetry", "--skipApiVersionCheck", "--silent"];
  const server = await startServerProcess({
    name: `azurite ${service}`,
    command: process.execPath,
    args,
    ready: () => accepts(port),
    env: localMetadataEnv(),
    cleanUp: () => rmSync(dir, { recursive: true, force: true }),
  });
  return {
    endpoint,
    connectionString,
    port,
    get running() {
      return server.running;
    },
    // azurite saves its database on SIGINT only (SIGTERM ends it like a crash).
    stop: () => server.halt("SIGINT"),
    kill: () => server.halt("SIGKILL"),
    start: () => server.start(),
    destroy: () => server.destroy(),
  };
}

/** A real server of `service` (default table) for the calling test file (see useServer). */
export function useAzurite(service: AzuriteService = "table"): () => AzuriteServer {
  return useServer(`azurite ${service} test server`, () => startAzurite(service));
}
