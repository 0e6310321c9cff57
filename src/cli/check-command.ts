import { StowageError } from "../api/errors.js";
import { type Command, takeArgs } from "./command.js";

/** `check`: verifies the stored data; a problem found is exit 1 with CORRUPT, after the report. */
export const check: Command = {
  words: ["check"],
  synopsis: "",
  summary: "Verify the stored data (SQLite's integrity_check and stowage's invariants) and print each problem; exit 1 with CORRUPT if any.",
  options: ["json"],
  prepare({ args }) {
    takeArgs(this, args, []);
    return async (store, out) => {
      const report = await store.check();
      out.result(report, report.ok ? ["ok: no problem found"] : report.problems);
      if (!report.ok) throw new StowageError("CORRUPT", `${report.problems.length} problem(s) found in the stored data`);
    };
  },
};
