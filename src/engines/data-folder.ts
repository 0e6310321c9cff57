import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { StowageError } from "../api/errors.js";

/**
 * Creates the folders above an embedded engine's data file or folder (`location`, absolute), as the default
 * locations promise; BACKEND_UNAVAILABLE naming it when they cannot be made. Engines call it after loading their
 * driver, so that a missing driver leaves no folder behind.
 */
export function createParentFolders(location: string): void {
  try {
    mkdirSync(dirname(location), { recursive: true });
  } catch (cause) {
    throw new StowageError("BACKEND_UNAVAILABLE", `cannot create the folder of ${location}: ${(cause as Error).message}`, { cause });
  }
}
