/** What a baseline is: a case outside stowage, measured the same way, compared to the stowage case of the same op. */
import type { CaseBody } from "./harness.js";

export interface BaselineCase {
  /** The library measured, e.g. "raw better-sqlite3". */
  subject: string;
  /** The stowage op it is compared to. */
  op: string;
  /** What one operation is, and at which durability. */
  describe: string;
  /** Concurrencies to run at, instead of the run's default list. */
  concurrencies?: readonly number[];
  build(concurrency: number): Promise<{ body: CaseBody; close(): Promise<void> }>;
}
