import type { Codec } from "../api/codec.js";
import { isStowageError } from "../api/errors.js";
import { checkBoolean, checkOptions } from "../store/validate.js";
import type { Store } from "../api/types.js";
import { CheckpointStore } from "./checkpoint-store.js";
import type { HeldEventsOptions } from "./held-events.js";
import { LeaderElection, type LeaderElectionOptions } from "./leader-election.js";
import { LeaseDirectory, type LeaseDirectoryOptions } from "./lease-directory.js";
import { Membership, type MembershipOptions } from "./membership.js";
import { DeadLetterQueue, Quarantine } from "./quarantine.js";
import { SchemaRegistry, type SchemaRegistryOptions } from "./schema-registry.js";
import { SnapshotCursor } from "./snapshot-cursor.js";

const RUNTIME_OPTIONS = ["schemas", "heldEvents", "ownsStore"];

/** Options of {@link createRuntime}. */
export interface RuntimeOptions {
  /** Options of the schema registry (`live: false` to stop it following other processes' registrations). */
  schemas?: SchemaRegistryOptions;
  /** Bound and overflow policy of every quarantine and dead-letter queue the runtime hands out. */
  heldEvents?: Pick<HeldEventsOptions<Uint8Array>, "maxLength" | "overflow">;
  /** When true, `close()` closes the store too (default false: the caller owns it). */
  ownsStore?: boolean;
}

/**
 * Every adapter a pipeline manager needs, over one store: checkpoints, the schema registry, snapshot cursors,
 * leader elections, the cluster membership, lease directories, quarantines and dead-letter queues. Each adapter keeps its own namespace, so they share the
 * store without meeting.
 */
export interface Runtime {
  readonly store: Store;
  readonly checkpoints: CheckpointStore;
  readonly schemas: SchemaRegistry;
  /** The quarantine named `name` (default `"default"`), bytes or through `codec`. */
  quarantine<T = Uint8Array>(name?: string, codec?: Codec<T>): Quarantine<T>;
  /** The dead-letter queue named `name` (default `"default"`). */
  deadLetters<T = Uint8Array>(name?: string, codec?: Codec<T>): DeadLetterQueue<T>;
  /** The backfill cursor of `table`. */
  cursor<P>(table: string): SnapshotCursor<P>;
  /** A candidate in the election `name`; `close()` stops its campaigns and releases its lease. */
  election(options: LeaderElectionOptions): LeaderElection;
  /** The cluster membership (namespace `cluster`); `close()` stops its periodic sweep. */
  membership(options: MembershipOptions): Membership;
  /** A lease directory (namespace `directory`): leases of addressable keys, by node. */
  directory(options: LeaseDirectoryOptions): LeaseDirectory;
  /**
   * Releases the leases of the runtime's elections, so that another process takes over at once rather than after the
   * lease expires; stops the memberships' sweeps and the registry following the log; closes the store when the
   * runtime owns it.
   */
  close(): Promise<void>;
}

/**
 * Wires every adapter from one store. Async because the schema registry replays its log first, so that its reads
 * cost no I/O from then on.
 *
 * @example
 * ```ts
 * const runtime = await createRuntime(await openStore());
 * const leader = runtime.election({ name: "pipeline/orders", ttlMs: 10_000 });
 * if (await leader.acquire()) { … runtime.checkpoints.put("orders", offset) … }
 * ```
 */
export async function createRuntime(store: Store, options: RuntimeOptions = {}): Promise<Runtime> {
  checkOptions(undefined, "runtime options", options, RUNTIME_OPTIONS);
  checkBoolean(undefined, "ownsStore", options.ownsStore);
  const held = options.heldEvents ?? {};
  // Checked now rather than at the first push: a handle with these bounds is taken once here.
  new Quarantine(store, { ...held, name: "default" });
  const schemas = await SchemaRegistry.open(store, options.schemas);
  const elections: LeaderElection[] = [];
  const memberships: Membership[] = [];
  let closing: Promise<void> | undefined;
  return {
    store,
    checkpoints: new CheckpointStore(store),
    schemas,
    quarantine: <T>(name = "default", codec?: Codec<T>) => new Quarantine<T>(store, { ...held, name, codec }),
    deadLetters: <T>(name = "default", codec?: Codec<T>) => new DeadLetterQueue<T>(store, { ...held, name, codec }),
    cursor: <P>(table: string) => new SnapshotCursor<P>(store, table),
    election: (election) => {
      const candidate = new LeaderElection(store, election);
      elections.push(candidate);
      return candidate;
    },
    membership: (membership) => {
      const handle = new Membership(store, membership);
      memberships.push(handle);
      return handle;
    },
    directory: (directory) => new LeaseDirectory(store, directory),
    close: () =>
      (closing ??= (async () => {
        for (const membership of memberships) membership.close();
        try {
          // Every release is tried, one failing or not: a lease left held only delays the next leader by its ttl.
          const released = await Promise.allSettled(elections.map((candidate) => candidate.close()));
          await schemas.close();
          // A store closed first has nothing to release through: the lease expires by itself.
          const failed = released.find((outcome) => outcome.status === "rejected" && !isStowageError(outcome.reason, "CLOSED"));
          if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
        } finally {
          if (options.ownsStore === true) await store.close();
        }
      })()),
  };
}
