import { StowageError } from "../api/errors.js";
import { type Command, takeArgs } from "./command.js";

/** `health`: the store's health report; unhealthy is exit 1 with BACKEND_UNAVAILABLE, after the report. */
export const health: Command = {
  words: ["health"],
  synopsis: "",
  summary: "Probe the engine once and print the health report (status, probe latency, engine facts); exit 1 with BACKEND_UNAVAILABLE when unhealthy.",
  options: ["json"],
  prepare({ args }) {
    takeArgs(this, args, []);
    return async (store, out) => {
      const report = await store.health();
      const facts = Object.entries(report.facts).map(([name, value]) => `${name}: ${String(value)}`);
      out.result(report, [`${report.status} (probe ${report.probeMs.toFixed(1)} ms)`, ...report.reasons, ...facts]);
      if (report.status === "unhealthy") throw new StowageError("BACKEND_UNAVAILABLE", `the store is unhealthy: ${report.reasons.join("; ")}`);
    };
  },
};
