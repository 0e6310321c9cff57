import type { Store } from "../api/types.js";
import { compositeControl, type CompositeControl } from "../engines/composite/control.js";
import type { CompositeStatus } from "../engines/composite/composite-engine.js";
import { type Command, takeArgs } from "./command.js";
import type { Output } from "./output.js";

/** A `composite <verb> [<provider>]` command: runs `act` on the named composite (the only one, when not named), then prints its status. */
function compositeCommand(verb: string, summary: string, act: (control: CompositeControl) => Promise<void>): Command {
  return {
    words: ["composite", verb],
    synopsis: "[<provider>]",
    summary,
    options: ["json"],
    prepare({ args }) {
      const { provider } = takeArgs(this, args, [], ["provider"]);
      return async (store: Store, out: Output) => {
        const control = compositeControl(store, provider);
        await act(control);
        const status = control.status();
        out.result(status, statusLines(status));
      };
    },
  };
}

function statusLines(status: CompositeStatus): string[] {
  return [
    `serving: ${status.serving} (batch ${status.batch}, ${status.mode})`,
    `standby: ${status.standby}${status.staleReason === undefined ? "" : ` (${status.staleReason})`}`,
    ...(status.failoverAt === undefined ? [] : [`failover at batch ${status.failoverAt}`]),
    ...(status.lastRefusal === undefined ? [] : [`refused: ${status.lastRefusal}`]),
  ];
}

/**
 * `composite status|failover|failback|resync [<provider>]`: a composite provider's state, and the operator's moves.
 * The composite's state is owned by the process that has the store open: run the moves while no service has it open.
 */
export const COMPOSITE_COMMANDS: readonly Command[] = [
  compositeCommand("status", "Print which side of the composite provider serves and how the other side stands (its state as recorded on the sides).", async () => undefined),
  compositeCommand("failover", "Serve from the backup (a planned failover; refused when the backup is stale). Run it while no service has the store open.", (control) => control.failover()),
  compositeCommand("failback", "Serve from the primary again; refused (exit 1, CONFLICT) when it diverged or cannot catch up: resync it first. Run it while no service has the store open.", (control) => control.failback()),
  compositeCommand("resync", "Copy the serving side into the side that needs it (which must be empty), then validate the copy. Run it while no service has the store open.", (control) => control.resync()),
];
