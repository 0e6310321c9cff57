import { StowageError } from "../api/errors.js";

/** The CONFLICT of a produce whose expected sequence is not the segment's: nothing was written. */
export function checkExpectedSeq(ns: string, space: string, segment: string, expectedSeq: number | null, currentSeq: number): void {
  if (expectedSeq === null || expectedSeq === currentSeq) return;
  throw new StowageError(
    "CONFLICT",
    `segment ${JSON.stringify(segment)} of space ${JSON.stringify(space)} is at seq ${currentSeq}, not the expected ${expectedSeq}; nothing was written`,
    { namespace: ns, key: segment, currentSeq },
  );
}

/** (timestamp, segment, seq) order: how a space's entries are read. `compareNames` orders segment names by bytes. */
export function compareSpaceOrder(
  a: { timestamp: number; segment: string; seq: number },
  b: { timestamp: number; segment: string; seq: number },
  compareNames: (x: string, y: string) => number,
): number {
  return a.timestamp - b.timestamp || compareNames(a.segment, b.segment) || a.seq - b.seq;
}
