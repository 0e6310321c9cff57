/**
 * The record a work-queue worker keeps of what it did, one JSON object per line, for the lease-history checker
 * (lease-history.ts): the worker processes of the SIGKILL battery write it line by line, in-process test workers
 * collect it in an array.
 *
 * Two clocks appear, never mixed in one comparison:
 * - *Event times* (`at`, `invoke`, `resolve`): {@link eventClock}, `performance.timeOrigin + performance.now()` — each
 *   process's monotonic clock, placed on the epoch by its wall-clock reading at process start. Processes of one host
 *   agree on it to within a few ms (see `clockToleranceMs` in lease-history.ts); one process agrees with itself exactly.
 * - *Store-clock times* (`deadline`, `visibleAt`): the numbers the store handed the engine and the engine compared
 *   (`Date.now()` of the calling process in the battery, whatever clock the store was given elsewhere).
 *
 * What a killed worker may leave out, and why each choice keeps the checker free of false alarms:
 * - a claim, an extend and a settle's outcome are written when the call answers; a claim or extend whose answer never
 *   came (killed, or the call failed) is simply missing — such a claim may have leased the item, but to nobody who
 *   could settle it, so it only delays the next claim; such an extend could only have moved a deadline later;
 * - a settle is written *before* the call too (`settling`): one cut short may still have freed the item, and the
 *   checker must know it may have. A worker that reports settles only once they answer (the `work()` worker's
 *   `onEvent`) may leave `settling` out for fails if its handler writes `threw` before it throws: the checker takes
 *   that line as the fail's announcement. Releases and retries by other means need their `settling` line.
 * Lines are written with one synchronous `write(2)` each ({@link leaseEventWriter}), so only a process's last line can be
 * cut short — provided the write really is synchronous. Measured (Node 20, Linux): `process.stdout.write` on a pipe
 * whose reader lags queues in the process once the pipe is full, and a SIGKILL loses the queue (a child reported 278
 * lines written, its parent received 92); and once `process.stdout` exists, fd 1 is non-blocking, so `writeSync(1)`
 * fails EAGAIN on a full pipe. Hence the battery's workers write their events to a file of their own (always
 * synchronous, and what `write(2)` returned survives the kill), or to fd 1 in a process that never touches
 * `process.stdout` (libuv hands a child its stdio blocking).
 */
import { writeSync } from "node:fs";

/** How a lease ends: `ack` (done), `fail` (retry or dead, per the item's policy), `release` (claimable again). */
export type SettleKind = "ack" | "fail" | "release";

interface FromWorker {
  /** The worker's name (several in-process workers share a pid). */
  w: string;
  pid: number;
}

/** What identifies a lease: the item and the claim's token and attempt. */
export interface LeaseKey {
  key: string;
  id: number;
  token: number;
  attempt: number;
}

/** A worker began (its first line). */
export interface BeginEvent extends FromWorker {
  ev: "begin";
  at: number;
}

/** A worker ended cleanly (a killed worker has none). */
export interface EndEvent extends FromWorker {
  ev: "end";
  at: number;
}

/** One item a claim call returned (a claim of several items makes one line each, with the call's times). */
export interface ClaimEvent extends FromWorker, LeaseKey {
  ev: "claim";
  invoke: number;
  resolve: number;
  /** Store clock: the lease's deadline; `deadline − visibilityMs` is the `now` the claim ran at. */
  deadline: number;
  visibilityMs: number;
}

/** A heartbeat's answer: the new deadline (store clock), or `ok: false` when the lease was no longer current. */
export interface ExtendEvent extends FromWorker, LeaseKey {
  ev: "extend";
  invoke: number;
  resolve: number;
  deadline: number | null;
  ok: boolean;
}

/** The handler began (`start`), resolved (`done`) or threw (`threw`, with the failure text the store keeps). */
export interface HandlerEvent extends FromWorker, LeaseKey {
  ev: "start" | "done" | "threw";
  at: number;
  error?: string;
}

/** A settle about to be called: written before the call, so one a kill cuts short is still known to be possible. */
export interface SettlingEvent extends FromWorker, LeaseKey {
  ev: "settling";
  invoke: number;
  kind: SettleKind;
}

/** A settle's answer: `ok` (applied) or not (lost); for a fail, whether it dead-lettered the item or when it retries. */
export interface SettleEvent extends FromWorker, LeaseKey {
  ev: "settle";
  invoke: number;
  resolve: number;
  kind: SettleKind;
  ok: boolean;
  dead: boolean;
  /** Store clock: when the item is claimable again (a fail that retries, a release); null otherwise. */
  visibleAt: number | null;
}

export type LeaseEvent = BeginEvent | EndEvent | ClaimEvent | ExtendEvent | HandlerEvent | SettlingEvent | SettleEvent;

/** The event clock: one host's clock, comparable across its processes (see the file comment). */
export function eventClock(): number {
  return performance.timeOrigin + performance.now();
}

/** The line of `event` (no newline). */
export function formatLeaseEvent(event: LeaseEvent): string {
  return JSON.stringify(event);
}

/**
 * A sink that writes each event as one line on `fd` with one synchronous write: an events file opened with
 * `openSync(path, "a")` (see the file comment for why not `process.stdout`).
 */
export function leaseEventWriter(fd: number): (event: LeaseEvent) => void {
  return (event) => {
    writeSync(fd, `${formatLeaseEvent(event)}\n`);
  };
}

type FieldType = "string" | "number" | "boolean" | "number|null" | "kind" | "string?";

const WORKER_FIELDS: Record<string, FieldType> = { w: "string", pid: "number" };
const LEASE_FIELDS: Record<string, FieldType> = { ...WORKER_FIELDS, key: "string", id: "number", token: "number", attempt: "number" };

/** The fields each event must have, with their types. */
const EVENT_FIELDS: Record<LeaseEvent["ev"], Record<string, FieldType>> = {
  begin: { ...WORKER_FIELDS, at: "number" },
  end: { ...WORKER_FIELDS, at: "number" },
  claim: { ...LEASE_FIELDS, invoke: "number", resolve: "number", deadline: "number", visibilityMs: "number" },
  extend: { ...LEASE_FIELDS, invoke: "number", resolve: "number", deadline: "number|null", ok: "boolean" },
  start: { ...LEASE_FIELDS, at: "number" },
  done: { ...LEASE_FIELDS, at: "number" },
  threw: { ...LEASE_FIELDS, at: "number", error: "string?" },
  settling: { ...LEASE_FIELDS, invoke: "number", kind: "kind" },
  settle: { ...LEASE_FIELDS, invoke: "number", resolve: "number", kind: "kind", ok: "boolean", dead: "boolean", visibleAt: "number|null" },
};

function fits(value: unknown, type: FieldType): boolean {
  switch (type) {
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "number|null":
      return value === null || (typeof value === "number" && Number.isFinite(value));
    case "kind":
      return value === "ack" || value === "fail" || value === "release";
    case "string?":
      return value === undefined || typeof value === "string";
    default:
      return typeof value === type;
  }
}

/** Options of {@link parseLeaseEvents}. */
export interface ParseOptions {
  /** Named in errors: which worker's output this is. */
  source: string;
  /** The process was killed: its last line may be cut short, and is then dropped. */
  killed: boolean;
  /** Lines of the fixture's own protocol (such as `ready`) that are not events. */
  words?: readonly string[];
}

/**
 * The events of one worker's output (its stdout text, or its lines). Every line must be an event or one of `words`,
 * except that a killed process's last line may be cut short: that one line is dropped. Anything else throws, naming
 * the source and line — a malformed record is the test's bug and must not pass silently.
 */
export function parseLeaseEvents(output: string | readonly string[], options: ParseOptions): LeaseEvent[] {
  const lines = typeof output === "string" ? output.split("\n") : [...output];
  // A newline-terminated text ends with an empty piece: not a line.
  if (typeof output === "string" && lines.at(-1) === "") lines.pop();
  const events: LeaseEvent[] = [];
  lines.forEach((line, index) => {
    if (options.words?.includes(line)) return;
    const last = index === lines.length - 1;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (error) {
      if (last && options.killed) return; // the kill cut it short
      throw new Error(`${options.source}, line ${index + 1}: not JSON${last ? " (and the process was not killed)" : ""}: ${line.slice(0, 200)}`, { cause: error });
    }
    events.push(checkedEvent(parsed, `${options.source}, line ${index + 1}`));
  });
  return events;
}

function checkedEvent(parsed: unknown, where: string): LeaseEvent {
  if (typeof parsed !== "object" || parsed === null) throw new Error(`${where}: not an event object`);
  const record = parsed as Record<string, unknown>;
  const fields = EVENT_FIELDS[record.ev as LeaseEvent["ev"]] as Record<string, FieldType> | undefined;
  if (fields === undefined) throw new Error(`${where}: unknown event ${JSON.stringify(record.ev)}`);
  for (const [name, type] of Object.entries(fields)) {
    if (!fits(record[name], type)) throw new Error(`${where}: field ${name} of a ${String(record.ev)} event must be ${type}, got ${JSON.stringify(record[name])}`);
  }
  return record as unknown as LeaseEvent;
}
