/** The records of the cluster membership (namespace `cluster`): their shapes, keys and checks. */
import { json } from "../api/codec.js";
import { StowageError } from "../api/errors.js";
import { LIMITS } from "../api/limits.js";
import type { Kv, Store } from "../api/types.js";
import { checkOptions, describeType } from "../store/validate.js";
import { checkNodeId } from "./node-id.js";
import type { JsonValue } from "./schema-fingerprint.js";

/** The KV namespace of the cluster membership. */
export const CLUSTER_NAMESPACE = "cluster";

/** Largest node info (address, tags and payload as JSON), in bytes: leave events of a sweep carry several. */
export const MAX_NODE_INFO_BYTES = 16 * 1024;

/** Where members live: `node/<id>`. */
export const NODE_PREFIX = "node/";
/** The key whose every write is one batch of membership events: `kv.watch` follows it. */
export const EVENTS_KEY = "events";

/** What a node tells the cluster about itself. */
export interface NodeInfo {
  /** The node's id: 1 to 128 bytes, without `/`. */
  id: string;
  /** Where to reach it (default ""). */
  address?: string;
  /** Labels (default none). */
  tags?: string[];
  /** Anything else, as JSON (default null). */
  payload?: JsonValue;
}

/** A member as the cluster stores it. */
export interface ClusterNode extends Required<NodeInfo> {
  /** Its lease: it leaves this long after its last heartbeat. */
  ttlMs: number;
  /** When it joined, by the store's clock. */
  joinedAt: number;
  /** When it expires unless it heartbeats, by the store's clock. */
  expiresAt: number;
  /** The membership revision of its last join or update. */
  revision: number;
}

/** A membership change as `watch` reports it. */
export interface MembershipEvent {
  type: "join" | "update" | "leave";
  /** The node as it joined or was updated; for a leave, as it last was. */
  node: ClusterNode;
  /** The membership revision the change made: one per committed change, growing by one. */
  revision: number;
  /** When the change committed, by the store's clock of the process that made it. */
  at: number;
  /**
   * For a leave: `"left"` (it called `leave`) or `"expired"` (a sweep removed it after its deadline). `"resync"`:
   * derived by comparing a fresh snapshot, after the watch lost track of the history (any type).
   */
  reason?: "left" | "expired" | "resync";
}

/** The value of the `events` key: the last change's events, its revision and its time. */
export interface EventBatch {
  revision: number;
  at: number;
  events: Array<Omit<MembershipEvent, "revision" | "at">>;
}

/** The membership's KV namespace, in `tx` or the store. */
export function scoped(tx: Pick<Store, "kv">): Kv<unknown> {
  return tx.kv(CLUSTER_NAMESPACE, { codec: json<unknown>() });
}

export async function readNode(kv: Kv<unknown>, id: string): Promise<ClusterNode | undefined> {
  return (await kv.get(NODE_PREFIX + id)) as ClusterNode | undefined;
}

export async function listNodes(kv: Kv<unknown>): Promise<Map<string, ClusterNode>> {
  const nodes = new Map<string, ClusterNode>();
  let cursor: string | undefined;
  do {
    const page = await kv.list({ prefix: NODE_PREFIX, limit: LIMITS.maxPageSize, ...(cursor === undefined ? {} : { cursor }) });
    for (const { value } of page.entries) nodes.set((value as ClusterNode).id, value as ClusterNode);
    cursor = page.cursor;
  } while (cursor !== undefined);
  return nodes;
}

/** Whether a member already has this info. */
export function sameInfo(node: ClusterNode, info: Required<NodeInfo>): boolean {
  return node.address === info.address && JSON.stringify(node.tags) === JSON.stringify(info.tags) && JSON.stringify(node.payload) === JSON.stringify(info.payload);
}

/** Checks a node info, and returns it as it reads back from JSON, with its defaults. */
export function checkInfo(info: NodeInfo): Required<NodeInfo> {
  const opts = checkOptions(CLUSTER_NAMESPACE, "node info", info, ["id", "address", "tags", "payload"]);
  const id = checkNodeId(CLUSTER_NAMESPACE, opts.id);
  const address = opts.address ?? "";
  if (typeof address !== "string") throw new StowageError("INVALID_ARGUMENT", `address must be a string, got ${describeType(address)}`, { namespace: CLUSTER_NAMESPACE, key: id });
  const tags = opts.tags ?? [];
  if (!Array.isArray(tags) || tags.some((tag) => typeof tag !== "string")) {
    throw new StowageError("INVALID_ARGUMENT", `tags must be an array of strings, got ${describeType(tags)}`, { namespace: CLUSTER_NAMESPACE, key: id });
  }
  const payload = (opts.payload ?? null) as JsonValue;
  if (typeof payload === "function" || typeof payload === "symbol" || typeof payload === "bigint") {
    throw new StowageError("INVALID_ARGUMENT", `payload must be JSON, got ${describeType(payload)}`, { namespace: CLUSTER_NAMESPACE, key: id });
  }
  let text: string | undefined;
  try {
    text = JSON.stringify({ address, tags, payload });
  } catch (cause) {
    throw new StowageError("INVALID_ARGUMENT", "payload must be JSON (it could not be serialized)", { namespace: CLUSTER_NAMESPACE, key: id, cause });
  }
  const size = Buffer.byteLength(text);
  if (size > MAX_NODE_INFO_BYTES) {
    throw new StowageError("LIMIT_EXCEEDED", `node info is ${size} bytes as JSON; the limit is ${MAX_NODE_INFO_BYTES}`, { namespace: CLUSTER_NAMESPACE, key: id });
  }
  // Stored as it reads back from JSON, so that comparing it with a stored member is exact.
  return { id, ...(JSON.parse(text) as Omit<Required<NodeInfo>, "id">) };
}

