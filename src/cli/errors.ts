/** The exit statuses of the CLI; the usage text documents them. */
export const EXIT = Object.freeze({
  ok: 0,
  /** A StowageError: bad argument or configuration, limit, engine failure… */
  stowageError: 1,
  /** The command line itself is wrong. */
  usage: 2,
  /** The command worked and the answer is "no": the key is absent, or a cas lost. */
  negative: 3,
});

/** The command line is wrong (unknown command or option, missing argument, not a number…): exit 2 with the usage. */
export class UsageError extends Error {
  readonly code = "USAGE";
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * A negative answer: nothing under the key, a cas that lost, or a validation that found a difference. Not a failure of stowage, so scripts can tell it
 * from one by the exit status (3, not 1) while the message still follows the `error CODE: message` form.
 */
export class NegativeAnswer extends Error {
  constructor(
    readonly code: "NOT_FOUND" | "CONFLICT" | "DIFFERENT",
    message: string,
  ) {
    super(message);
    this.name = "NegativeAnswer";
  }
}
