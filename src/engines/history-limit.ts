import { StowageError } from "../api/errors.js";

/**
 * Refuses to turn on one more KV change history when `count` namespaces have one already: every namespace with
 * history adds a check to every KV write (the recording triggers name them all), so their number is bounded.
 */
export function checkHistoryRoom(ns: string, count: number, max: number): void {
  if (count < max) return;
  throw new StowageError(
    "LIMIT_EXCEEDED",
    `cannot turn on the KV change history of one more namespace: ${count} namespaces have one, the most is ${max}`,
    { namespace: ns },
  );
}
