import { StowageError, type ErrorCode } from "../../api/errors.js";
import { TLS_TEXT } from "../tls-failure.js";
import { serializationFailure } from "../transaction-failure.js";

/**
 * etcd's conditions by the text etcd3 gives them (the server's `etcdserver: …`/`mvcc: …` message or grpc-js's status
 * text; the error classes etcd3 casts them to are not exported as one hierarchy worth testing against), most specific
 * first.
 */
const KNOWN: ReadonlyArray<readonly [pattern: RegExp, code: ErrorCode, says: string]> = [
  [/request is too large|too many operations in txn|larger than max|message length/i, "LIMIT_EXCEEDED", "the request is larger than etcd accepts (--max-request-bytes, --max-txn-ops)"],
  [/database space exceeded|NOSPACE|no space/i, "BACKEND_UNAVAILABLE", "etcd's storage quota is full (compact and defragment it, or raise --quota-backend-bytes)"],
  [
    /permission denied|authentication failed|invalid auth token|user name (is empty|not found)|authentication is not enabled|Unauthenticated/i,
    "UNAUTHORIZED",
    "etcd refused the credentials (a wrong or missing user or password, or a user not allowed the store's prefix)",
  ],
  [/already closed|ClientClosed/i, "CLOSED", "the etcd client is closed"],
  // Before the unreachable ones: grpc-js reports a failed handshake as UNAVAILABLE with the TLS error in its text.
  [TLS_TEXT, "UNAUTHORIZED", "the TLS check of the connection failed (a server certificate the CA does not sign, or a client certificate missing or refused)"],
  [
    /unavailable|deadline.?exceeded|no connection|ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENOTFOUND|timed out|timeout|no leader|leader changed|broken circuit|Cancelled|connection/i,
    "BACKEND_UNAVAILABLE",
    "etcd does not answer",
  ],
];

/** The text etcd answers a read of a revision older than its last compaction with. */
const COMPACTED = /required revision has been compacted/;

/**
 * A typed error for an etcd3 failure on the store at `location` (its endpoints and prefix). A read of a snapshot
 * whose revision etcd compacted away is a CONFLICT marked as a serialization failure: the snapshot is gone, and the
 * work can run again on a new one. INTERNAL only for what is not known.
 */
export function mapEtcdError(error: unknown, location: string): StowageError {
  if (error instanceof StowageError) return error;
  const message = messageOf(error);
  if (COMPACTED.test(message)) {
    return serializationFailure(
      new StowageError("CONFLICT", `etcd compacted the revision a snapshot of ${location} reads (the snapshot lived longer than etcd keeps history); run it again: ${message}`, { cause: error }),
    );
  }
  for (const [pattern, code, says] of KNOWN) {
    if (pattern.test(message)) return new StowageError(code, `the etcd engine at ${location}: ${says}: ${message}`, { cause: error });
  }
  return new StowageError("INTERNAL", `etcd failed on ${location}: ${message}`, { cause: error });
}

/** The error's own message and its class name (etcd3's classes carry the gRPC status in their names). */
function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const name = error.constructor?.name ?? error.name;
  return name && name !== "Error" && !error.message.includes(name) ? `${error.message} (${name})` : error.message;
}
