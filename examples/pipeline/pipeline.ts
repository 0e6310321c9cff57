/**
 * The pipeline: source → batcher → every sink at once → commit policy → checkpoint.
 *
 * For each batch:
 * 1. every sink gets it concurrently, each retrying its own transient failures with backoff;
 * 2. once all of them have settled, the commit policy says how far the checkpoint may move;
 * 3. one transaction then quarantines what the sinks refused, dead-letters what a best-effort sink never took, and
 *    saves the checkpoint — all of it or none of it.
 *
 * The order is the whole point: the checkpoint is written only after the deliveries it covers resolved, so a crash
 * at any moment leaves it at or behind what the sinks hold, never ahead. A restart resumes after the checkpoint and
 * re-delivers what came after it (at-least-once: sinks may see an event twice, but never miss one).
 */
import { CheckpointStore, DeadLetterQueue, json, Quarantine, type Store, type TransactionScope } from "../../src/index.js";
import { checkPolicy, commitPoint, describePolicy, type CommitPolicy } from "./commit-policy.js";
import { batches, type BatchLimits, type CloseReason } from "./coordinator/batcher.js";
import { deliverWithRetry, type RetryOptions, type Sink, type SinkOutcome } from "./sinks.js";
import { emitEvents, eventBytes, SOURCE_ID, type PipelineEvent, type SourceOptions } from "./source.js";

/** The checkpoint as stored: the last seq every sink the policy needs has handled. */
export interface SourcePosition {
  seq: number;
}

/** Most events held per quarantine or dead-letter queue; past it a push fails (the pipeline stops, nothing is lost). */
const HELD_EVENTS_MAX = 1_000_000;

/** The pipeline's checkpoints, over a store or inside a transaction. */
export const checkpointsOf = (scope: Pick<TransactionScope, "kv">) => CheckpointStore.withCodec(scope, json<SourcePosition>());

/** The events sink `sink` refused, with the reasons (one quarantine queue per sink). */
export const quarantineOf = (scope: Pick<TransactionScope, "queue" | "kv">, sink: string) =>
  new Quarantine<PipelineEvent>(scope, { name: sink, codec: json<PipelineEvent>(), maxLength: HELD_EVENTS_MAX, overflow: "reject" });

/** The events best-effort sink `sink` never took (its retries ran out), with the last error. */
export const deadLettersOf = (scope: Pick<TransactionScope, "queue" | "kv">, sink: string) =>
  new DeadLetterQueue<PipelineEvent>(scope, { name: sink, codec: json<PipelineEvent>(), maxLength: HELD_EVENTS_MAX, overflow: "reject" });

/** The saved checkpoint: the last seq handled, 0 before the first commit. */
export async function readCheckpoint(store: Store): Promise<number> {
  return (await checkpointsOf(store).get(SOURCE_ID))?.seq ?? 0;
}

/** What the pipeline needs. */
export interface PipelineOptions {
  /** The source's last seq: the run ends when the checkpoint reaches it. */
  total: number;
  sinks: readonly Sink[];
  policy: CommitPolicy;
  limits: BatchLimits;
  retry: RetryOptions;
  source?: SourceOptions;
  /** Called after each checkpoint save. */
  onCommit?: (checkpoint: number) => void;
}

/** What one run did. */
export interface RunReport {
  /** The checkpoint the run started from. */
  startedAfter: number;
  /** The checkpoint it ended at. */
  checkpoint: number;
  /** Batches, by the limit that closed them. */
  batches: Record<CloseReason, number>;
  /** Deliveries attempted again after a transient failure. */
  retries: number;
  /** Refusals quarantined by this run. */
  quarantined: number;
  /** Events dead-lettered by this run. */
  deadLettered: number;
}

/** The policy could not be met for a batch: the checkpoint stays where it was, and a rerun retries from there. */
export class PolicyNotMetError extends Error {
  constructor(
    readonly policy: CommitPolicy,
    readonly seq: number,
    readonly failures: readonly string[],
  ) {
    super(`commit policy ${describePolicy(policy)} not met at seq ${seq}: ${failures.join("; ")}`);
    this.name = "PolicyNotMetError";
  }
}

/** Runs the pipeline from the saved checkpoint to `total`; resolves to what this run did. */
export async function runPipeline(store: Store, options: PipelineOptions): Promise<RunReport> {
  const sinkNames = options.sinks.map((sink) => sink.name);
  checkPolicy(options.policy, sinkNames);
  const startedAfter = await readCheckpoint(store);
  const report: RunReport = {
    startedAfter,
    checkpoint: startedAfter,
    batches: { events: 0, bytes: 0, time: 0, end: 0 },
    retries: 0,
    quarantined: 0,
    deadLettered: 0,
  };
  const events = emitEvents(startedAfter, options.total, options.source);
  for await (const batch of batches(events, options.limits, eventBytes)) {
    report.batches[batch.closedBy] += 1;
    const outcomes = await Promise.all(options.sinks.map((sink) => deliverWithRetry(sink, batch.items, options.retry)));
    report.retries += outcomes.reduce((sum, outcome) => sum + outcome.attempts - 1, 0);

    // These sinks deliver a batch all or nothing, so every event of the batch was handled by the same sinks.
    const handled = new Set(outcomes.filter((outcome) => outcome.handled).map((outcome) => outcome.sink));
    const seqs = batch.items.map((event) => event.seq);
    const upTo = commitPoint(options.policy, seqs, () => handled, sinkNames);
    if (upTo !== undefined) {
      const held = await commit(store, outcomes, batch.items, upTo);
      report.quarantined += held.quarantined;
      report.deadLettered += held.deadLettered;
      report.checkpoint = upTo;
      options.onCommit?.(upTo);
    }
    if (upTo !== seqs.at(-1)) {
      const failures = outcomes.flatMap((outcome) => (outcome.handled ? [] : [`${outcome.sink} failed ${outcome.attempts} times (${outcome.error})`]));
      throw new PolicyNotMetError(options.policy, (upTo ?? report.checkpoint) + 1, failures);
    }
  }
  return report;
}

/**
 * In one transaction: quarantines each refusal, dead-letters the events a sink never took, and moves the
 * checkpoint to `upTo` — for the events up to `upTo` only. Together, so that after a crash either all of it is
 * there (and the batch is done) or none of it (and the batch is delivered again, refused again, quarantined once).
 */
async function commit(store: Store, outcomes: readonly SinkOutcome[], events: readonly PipelineEvent[], upTo: number) {
  return store.transaction(async (tx) => {
    let quarantined = 0;
    let deadLettered = 0;
    for (const outcome of outcomes) {
      if (outcome.handled) {
        const quarantine = quarantineOf(tx, outcome.sink);
        for (const { event, reason } of outcome.refused) {
          if (event.seq > upTo) continue;
          await quarantine.push(reason, event);
          quarantined += 1;
        }
      } else {
        const deadLetters = deadLettersOf(tx, outcome.sink);
        for (const event of events) {
          if (event.seq > upTo) continue;
          await deadLetters.push(outcome.error, event);
          deadLettered += 1;
        }
      }
    }
    await checkpointsOf(tx).put(SOURCE_ID, { seq: upTo });
    return { quarantined, deadLettered };
  });
}
