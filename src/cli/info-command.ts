import type { StoreInfo } from "../api/types.js";
import { type Command, takeArgs } from "./command.js";
import { columns } from "./output.js";

/** `info`: what the store holds. */
export const info: Command = {
  words: ["info"],
  synopsis: "",
  summary: "Print the engine, location, schema version, stored rows, and each namespace with its primitive and count (and provider, and the routes, on a store over several providers).",
  options: ["json"],
  prepare({ args }) {
    takeArgs(this, args, []);
    return async (store, out) => {
      const described = await store.info();
      out.result(described, formatInfo(described));
    };
  },
};

/**
 * `store.info()` as text lines. Counts are live KV entries, log entries, slots and queued items; stored rows also
 * count expired KV entries not yet swept, which is why the two can differ.
 */
export function formatInfo(described: StoreInfo): string[] {
  const head = columns([
    ["engine", described.engine],
    ["location", described.location],
    ["schema version", String(described.schemaVersion)],
    ["stored rows", String(described.storedRows)],
    ["namespaces", described.namespaces.length === 0 ? "none" : String(described.namespaces.length)],
  ]);
  const rows = columns(described.namespaces.map((ns) => [ns.primitive, ns.namespace, String(ns.count), ...(ns.provider === undefined ? [] : [ns.provider])]));
  const routing = described.routing;
  const routes =
    routing === undefined
      ? []
      : ["routes", ...columns([...routing.routes.map((route) => [route.match, route.provider]), ["(default)", routing.defaultProvider]]).map((row) => `  ${row}`)];
  return [...head, ...rows.map((row) => `  ${row}`), ...routes];
}
