import type { DumpEvent, DumpSource } from "./dump-events.js";

type Handed = { event: DumpEvent; taken: () => void; stop: (error: Error) => void } | { done: true } | { error: unknown };

/**
 * A push source as a pull iterator, one event at a time: the source waits until the event it handed over was taken,
 * so two sources can be read side by side (validate) in constant memory. Returning early (a `break`) stops the source.
 */
export async function* pullEvents(source: DumpSource): AsyncGenerator<DumpEvent> {
  let handOver!: (handed: Handed) => void;
  const next = (): Promise<Handed> => new Promise((resolve) => (handOver = resolve));
  let pending = next();
  let stopped = false;
  const run = source(
    (event) =>
      new Promise<void>((taken, stop) => {
        if (stopped) return stop(new Error("the reader stopped"));
        handOver({ event, taken, stop });
      }),
  ).then(
    () => handOver({ done: true }),
    (error: unknown) => handOver({ error }),
  );
  let current: Extract<Handed, { event: DumpEvent }> | undefined;
  try {
    for (;;) {
      const handed = await pending;
      if ("error" in handed) throw handed.error;
      if ("done" in handed) return;
      pending = next();
      current = handed;
      yield handed.event;
      current = undefined;
      handed.taken();
    }
  } finally {
    stopped = true;
    // A source still waiting for its event to be taken is told to stop; its failure then is ours, not the caller's.
    current?.stop(new Error("the reader stopped"));
    await run.catch(() => undefined);
  }
}
