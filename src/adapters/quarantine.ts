import { HeldEvents, type HeldEventsOptions, type HeldEventsScope } from "./held-events.js";

/** The Queue namespace quarantined events live in (key = the quarantine's name). */
export const QUARANTINE_NAMESPACE = "quarantine";
/** The Queue namespace dead letters live in (key = the queue's name). */
export const DLQ_NAMESPACE = "dlq";

/**
 * Events a pipeline set aside to look at later (a sink refused them, a schema did not match), each with its reason,
 * in the `quarantine` Queue namespace. `replay(handler)` sends them back through and acks what the handler accepts.
 */
export class Quarantine<T = Uint8Array> extends HeldEvents<T> {
  constructor(scope: HeldEventsScope, options?: HeldEventsOptions<T>) {
    super(QUARANTINE_NAMESPACE, scope, options);
  }
}

/**
 * Events that failed for good (retries exhausted), each with its reason, in the `dlq` Queue namespace; the same API
 * as {@link Quarantine}.
 */
export class DeadLetterQueue<T = Uint8Array> extends HeldEvents<T> {
  constructor(scope: HeldEventsScope, options?: HeldEventsOptions<T>) {
    super(DLQ_NAMESPACE, scope, options);
  }
}
