import { StowageError } from "../api/errors.js";

/** TEMPORARY (removed before this lands): a dump operation an engine family does not implement yet. */
export function dumpPending(op: string): StowageError {
  return new StowageError("NOT_SUPPORTED", `${op} is not implemented yet`);
}
