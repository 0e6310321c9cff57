/**
 * A throwaway S3-compatible server for tests: the devDependency s3rver in a child process on 127.0.0.1 and a free
 * port, its objects in a fresh temporary folder, stopped by its own pid when asked or when the process exits, its
 * folder removed. It runs under `node --openssl-legacy-provider`: s3rver encrypts ListObjectsV2 continuation tokens
 * with DES, which OpenSSL 3 only offers from its legacy provider. Nothing is mocked.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { accepts, startServerProcess } from "./server-process.js";
import { freePort } from "./postgres-server.js";
import { useServer } from "./use-server.js";

/** s3rver's built-in account (documented by s3rver; not a secret). */
export const S3RVER_CREDENTIALS = Object.freeze({ accessKeyId: "S3RVER", secretAccessKey: "S3RVER" });

export interface S3Server {
  /** `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  readonly port: number;
  readonly running: boolean;
  /** Kills it (SIGKILL) and waits until it exited; its folder stays. */
  kill(): Promise<void>;
  /** Starts it again on the same port and folder; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Kills it and removes its folder. Idempotent. */
  destroy(): void;
}

function s3rverScript(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve("s3rver/package.json")), "bin", "s3rver.js");
}

/** Starts a fresh server with `buckets` created. Throws (never skips) when it cannot start. */
export async function startS3Server(buckets: readonly string[] = []): Promise<S3Server> {
  const dir = mkdtempSync(join(tmpdir(), "stowage-s3rver-"));
  const port = await freePort();
  const bucketArgs = buckets.flatMap((bucket) => ["--configure-bucket", bucket]);
  const args = ["--openssl-legacy-provider", s3rverScript(), "--directory", dir, "--address", "127.0.0.1", "--port", String(port), "--silent", ...bucketArgs];
  const server = await startServerProcess({
    name: "s3rver",
    command: process.execPath,
    args,
    ready: () => accepts(port),
    cleanUp: () => rmSync(dir, { recursive: true, force: true }),
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    get running() {
      return server.running;
    },
    kill: () => server.halt("SIGKILL"),
    start: () => server.start(),
    destroy: () => server.destroy(),
  };
}

/** A real server with `buckets` for the calling test file (see useServer). */
export function useS3Server(buckets: readonly string[] = []): () => S3Server {
  return useServer("s3rver test server", () => startS3Server(buckets));
}
