import { after, before } from "node:test";

/**
 * A real server for the calling test file: `start` runs before its tests and the server is destroyed after them.
 * The getter throws when the server did not start, so every test that needs it fails rather than skips.
 */
export function useServer<T extends { destroy(): void }>(what: string, start: () => Promise<T>): () => T {
  let server: T | undefined;
  before(async () => {
    server = await start();
  });
  after(() => server?.destroy());
  return () => {
    if (server === undefined) throw new Error(`the ${what} did not start`);
    return server;
  };
}
