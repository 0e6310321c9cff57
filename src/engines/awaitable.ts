import type { Awaitable } from "./engine.js";

/**
 * `f(value)` once `value` is there: at once for a plain value (no promise, no microtask), after it settles for a
 * promise. What engines with synchronous reads use on their hot paths instead of `await`, which always costs a promise.
 * (Not named `then`: a module exporting `then` is a thenable, and `await import()` of it would call it.)
 */
export function whenReady<A, B>(value: Awaitable<A>, f: (value: A) => Awaitable<B>): Awaitable<B> {
  return value instanceof Promise ? value.then(f) : f(value);
}

/**
 * A computation written once as a generator that yields what it waits for (see {@link ask}): {@link drive} runs it
 * synchronously for as long as every answer is a plain value, and goes on asynchronously from the first promise.
 */
export type Program<T> = Generator<unknown, T, unknown>;

/** Waits for `value` inside a {@link Program}: `const x = yield* ask(reader.get(key))`. */
export function* ask<T>(value: Awaitable<T>): Program<T> {
  return (yield value) as T;
}

/** Runs a program: its result itself while every answer is synchronous, a promise of it from the first promise on. */
export function drive<T>(program: Program<T>): Awaitable<T> {
  let step = program.next();
  while (step.done !== true) {
    const value = step.value;
    if (value instanceof Promise) return driveAsync(program, value);
    step = program.next(value);
  }
  return step.value;
}

async function driveAsync<T>(program: Program<T>, pending: Promise<unknown>): Promise<T> {
  let step = program.next(await pending);
  while (step.done !== true) {
    const value = step.value;
    step = program.next(value instanceof Promise ? await value : value);
  }
  return step.value;
}
