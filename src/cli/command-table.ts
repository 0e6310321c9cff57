import type { AnyCommand } from "./command.js";
import { DUMP_COMMANDS } from "./dump-commands.js";
import { BACKUP_COMMANDS } from "./backup-commands.js";
import { COMPOSITE_COMMANDS } from "./composite-commands.js";
import { check } from "./check-command.js";
import { health } from "./health-command.js";
import { demo } from "./demo-command.js";
import { info } from "./info-command.js";
import { KV_COMMANDS } from "./kv-commands.js";
import { LOG_COMMANDS } from "./log-commands.js";
import { QUEUE_COMMANDS } from "./queue-commands.js";
import { SLOT_COMMANDS } from "./slot-commands.js";
import { UsageError } from "./errors.js";
import { WORK_COMMANDS } from "./work-commands.js";

/** Every command, in the order usage lists them. */
export const COMMANDS: readonly AnyCommand[] = [...KV_COMMANDS, ...LOG_COMMANDS, ...SLOT_COMMANDS, ...QUEUE_COMMANDS, ...WORK_COMMANDS, info, check, health, ...DUMP_COMMANDS, ...BACKUP_COMMANDS, ...COMPOSITE_COMMANDS, demo];

/** The command named by the leading positionals, and the positionals after its words. */
export function findCommand(positionals: readonly string[]): { command: AnyCommand; args: string[] } {
  const [first, second] = positionals;
  for (const command of COMMANDS) {
    if (command.words.every((word, i) => positionals[i] === word)) {
      return { command, args: positionals.slice(command.words.length) };
    }
  }
  const group = COMMANDS.filter((command) => command.words.length > 1 && command.words[0] === first);
  if (group.length > 0) {
    const choices = group.map((command) => command.words[1]).join(", ");
    throw new UsageError(second === undefined ? `${first} needs a subcommand: ${choices}` : `unknown ${first} subcommand ${JSON.stringify(second)}; use ${choices}`);
  }
  throw new UsageError(`unknown command ${JSON.stringify(first)}`);
}
