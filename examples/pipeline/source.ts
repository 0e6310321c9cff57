/**
 * The source: numbered order events, 1, 2, 3 … `total`. Event n is always the same (a pure function of n), so a
 * restarted pipeline can ask for "everything after the checkpoint" and get exactly what it would have got before.
 */
import { sleep } from "./random.js";

/** What an order looks like. Some orders are deliberately bad, so that sinks have something to refuse. */
export interface OrderPayload {
  /** `null` on every 97th order: the warehouse refuses those. */
  customer: string | null;
  amountCents: number;
  /** 0 to 159 characters: the search index refuses notes longer than 150. */
  note: string;
}

/** One event of the source: its sequence number and its payload. */
export interface PipelineEvent {
  seq: number;
  payload: OrderPayload;
}

/** The id the pipeline's checkpoint is saved under (the `checkpoints` KV namespace). */
export const SOURCE_ID = "orders";

/** Event `seq`, always the same. */
export function eventAt(seq: number): PipelineEvent {
  return {
    seq,
    payload: {
      customer: seq % 97 === 0 ? null : `customer-${seq % 31}`,
      amountCents: (seq * 7_919) % 100_000,
      note: "n".repeat((seq * 37) % 160),
    },
  };
}

/** The size of an event as the batcher counts it: its JSON in UTF-8 bytes. */
export function eventBytes(event: PipelineEvent): number {
  return Buffer.byteLength(JSON.stringify(event));
}

/** How the source paces itself. */
export interface SourceOptions {
  /** After this many events the source goes quiet for `quietMs` (default 120), like an upstream between bursts. */
  burst?: number;
  /** How long a quiet spell lasts, in ms (default 40): longer than the batcher's max-ms, so a batch closes on time. */
  quietMs?: number;
}

/**
 * Emits the events after `afterSeq` up to `total`, in order, in bursts. The quiet spells are what the batcher's
 * time limit is for: without them every batch would fill up by count or bytes.
 */
export async function* emitEvents(afterSeq: number, total: number, options: SourceOptions = {}): AsyncGenerator<PipelineEvent> {
  const burst = options.burst ?? 120;
  const quietMs = options.quietMs ?? 40;
  for (let seq = afterSeq + 1; seq <= total; seq++) {
    yield eventAt(seq);
    if (seq % burst === 0 && seq < total) await sleep(quietMs);
  }
}
