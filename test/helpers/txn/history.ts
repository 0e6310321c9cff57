/**
 * The history a list-append workload records and the transactional checker reads (test/helpers/txn/checker.ts).
 * Engine-independent plain data, so that child processes can send it as JSON.
 */

/**
 * How a call or a transaction ended: `ok` it resolved (committed), `fail` it certainly did not take effect (the
 * engine rolled it back, or it was refused), `info` unknown (the server may or may not have committed it: a lost
 * connection, a timeout, a crash).
 */
export type Outcome = "ok" | "fail" | "info";

/** A successful read of a list key: its elements, oldest first (an absent key reads as []). */
export interface ReadOp {
  f: "r";
  key: string;
  value: string[];
}

/** An append of a unique element to a list key, with the outcome of the call itself. */
export interface AppendOp {
  f: "a";
  key: string;
  value: string;
  outcome: Outcome;
}

export type MicroOp = ReadOp | AppendOp;

/**
 * One transaction (or one attempt of a body the store ran again), or one plain call outside transactions (`single`).
 * Times are ms on one clock shared by every client of the history (`start` taken before the call was made, `end`
 * after it settled; null when it never settled).
 */
export interface Txn {
  id: string;
  /** The client that ran it; a client runs one call at a time. */
  process: string;
  single: boolean;
  outcome: Outcome;
  start: number;
  end: number | null;
  ops: MicroOp[];
  /** The codes of failed calls the body caught and went on after, for reports (the checker does not need them). */
  caught?: string[];
}

/** A clock shared by every process of one machine: CLOCK_MONOTONIC, in ms with sub-ms precision. */
export function sharedClock(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
