import { StowageError } from "../api/errors.js";

/** NOT_SUPPORTED for an engine without `snapshot` (a test double): it cannot be the source of a dump. */
export function dumpRefused(what: string): StowageError {
  return new StowageError("NOT_SUPPORTED", `${what} cannot be dumped: it has no consistent snapshot to read from`);
}
