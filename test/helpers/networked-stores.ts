/**
 * The networked engines (etcd, Redis, Azure Table on azurite) for the checkers that run on every engine: one real
 * server of each for the calling test file, and store options that never meet another case's data.
 */
import type { OpenStoreOptions } from "../../src/index.js";
import { useAzurite } from "./azurite-server.js";
import { useEtcdServer } from "./etcd-server.js";
import { useRedisServer } from "./redis-server.js";

export const NETWORKED_ENGINES = ["etcd", "redis", "azure-table"] as const;
export type NetworkedEngine = (typeof NETWORKED_ENGINES)[number];

/**
 * How much of a checker's short run (the one `npm test` makes) each engine does: azurite is several times slower per
 * request than etcd or Redis (a commit reads the version entity first, and every range query scans the table).
 */
const SHORT_RUN_SHARE: Record<NetworkedEngine, number> = { etcd: 1, redis: 1, "azure-table": 0.5 };

/** `count` (operations, cases, calls) scaled to `engine`'s share of a short run; at least 1. */
export const shortRun = (engine: NetworkedEngine, count: number): number => Math.max(1, Math.round(count * SHORT_RUN_SHARE[engine]));

/**
 * Starts an etcd, a Redis and an azurite server for the calling test file (stopped after it; a server that cannot
 * start fails the tests that use it). The function returned gives the options of a fresh store each call: a prefix
 * (etcd, Redis) or a table (Azure) of its own, named after `what` (letters and digits) and a counter.
 */
export function useNetworkedServers(): (engine: NetworkedEngine, what: string) => OpenStoreOptions {
  const etcd = useEtcdServer();
  const redis = useRedisServer();
  const azurite = useAzurite();
  let stores = 0;
  return (engine, what) => {
    if (!/^[A-Za-z][A-Za-z0-9]{1,40}$/.test(what)) throw new Error(`a store is named with letters and digits, starting with a letter: ${what}`);
    const name = `${what}${++stores}`;
    switch (engine) {
      case "etcd":
        return { backend: "etcd", endpoints: etcd().endpoint, prefix: `${name}/` };
      case "redis":
        return { backend: "redis", url: redis().url, prefix: `${name}:` };
      case "azure-table":
        return { backend: "azure-table", connectionString: azurite().connectionString, table: name };
    }
  };
}
