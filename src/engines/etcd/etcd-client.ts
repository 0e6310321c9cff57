import type { Etcd3, IOptions } from "etcd3";
import { loadDriver } from "../load-driver.js";
import type { TlsMaterial } from "../tls-files.js";

const WATCH_RETRY_MS = 100;
const WATCH_RETRY_MAX_MS = 2_000;

/**
 * An etcd3 client for `hosts` (loading the driver), every call of which has a deadline of `timeoutMs`. etcd3's default
 * fault handling retries a failed call on another host, and opens a circuit breaker for 5 s after three failures: a
 * retried commit whose first attempt applied (its answer was lost) would be applied twice, so here only a call that
 * never reached a server (no connection) moves on to the next endpoint, and a server back from an outage is used at
 * once.
 */
export async function connectEtcd(hosts: string[], timeoutMs: number, access: EtcdAccess = {}): Promise<Etcd3> {
  const { Etcd3 } = await loadDriver<typeof import("etcd3")>("etcd3", "etcd");
  return new Etcd3({
    hosts,
    ...accessOptions(access),
    dialTimeout: timeoutMs,
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + timeoutMs }),
    // A range read answers in one message, however large (grpc-js stops at 4 MiB by default).
    grpcOptions: { "grpc.max_receive_message_length": -1 },
    // etcd3 types these as cockatiel's policies, a package of its own that stowage does not depend on.
    faultHandling: { host: () => passThrough as never, global: failover(hosts.length) as never, watchBackoff: watchBackoff(WATCH_RETRY_MS) as never },
  });
}

/**
 * The pauses between a lost watch's attempts to reconnect: doubling from {@link WATCH_RETRY_MS} up to
 * {@link WATCH_RETRY_MAX_MS} (etcd3's default grows to 30 s, for which live feeds would not hear other processes).
 */
function watchBackoff(ms: number): { duration: number; next(): ReturnType<typeof watchBackoff> } {
  return { duration: ms, next: () => watchBackoff(Math.min(ms * 2, WATCH_RETRY_MAX_MS)) };
}

/**
 * The signal the policies hand to etcd3's calls, which never read it: one for all calls, since an AbortController
 * costs ~2–6 µs to make here, and each call went through two policies.
 */
const NEVER_ABORTED = new AbortController().signal;

/** A host policy that calls straight through; async, since etcd3 expects a promise even when the call throws at once. */
const passThrough = { execute: async <T>(fn: (context: { signal: AbortSignal }) => Promise<T>): Promise<T> => fn({ signal: NEVER_ABORTED }) };

/** A global policy: a call that found no connection to one host is tried on the next, up to every host once. */
function failover(hosts: number) {
  return {
    async execute<T>(fn: (context: { signal: AbortSignal }) => Promise<T>): Promise<T> {
      for (let attempt = 1; ; attempt++) {
        try {
          return await fn({ signal: NEVER_ABORTED });
        } catch (error) {
          if (attempt >= hosts || !/No connection established|ECONNREFUSED/i.test(String((error as Error)?.message))) throw error;
        }
      }
    },
  };
}

/** Who the client is to the cluster: an etcd user, and the TLS files (read already) for `https://` endpoints. */
export interface EtcdAccess {
  user?: { username: string; password: string };
  tls?: TlsMaterial;
}

/**
 * etcd3's options for `access`. A user's password is exchanged for a token on the first call (etcd3 fetches a new
 * one when the token expires); TLS files become grpc-js's credentials, the system's CAs where no CA file is named.
 */
function accessOptions(access: EtcdAccess): Partial<IOptions> {
  const options: Partial<IOptions> = {};
  if (access.user !== undefined) options.auth = { username: access.user.username, password: access.user.password };
  if (access.tls !== undefined) {
    const { ca, cert, key } = access.tls;
    // grpc-js takes a null root certificate as "the system's CAs"; etcd3's type asks for a Buffer.
    options.credentials = { rootCertificate: (ca ?? null) as Buffer, privateKey: key, certChain: cert };
  }
  return options;
}
