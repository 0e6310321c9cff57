import type { Awaitable, EngineOps } from "../engine.js";
import type { SqlExecutor, SqlRow } from "./sql-executor.js";

/** One statement a program asks its runner to execute. */
export interface SqlStep {
  kind: "all" | "get" | "value" | "run";
  sql: string;
  params: readonly unknown[];
}

type StepResult = unknown;

/**
 * A primitive written once as a generator that yields its statements: the SQLite runner answers each at once (no
 * promise anywhere on the path), the PostgreSQL runner awaits each. The SQL and the logic between statements exist
 * in one place for both.
 */
export type SqlProgram<T> = Generator<SqlStep, T, StepResult>;

export function* all(sql: string, params: readonly unknown[]): SqlProgram<SqlRow[]> {
  return (yield { kind: "all", sql, params }) as SqlRow[];
}

export function* get(sql: string, params: readonly unknown[]): SqlProgram<SqlRow | undefined> {
  return (yield { kind: "get", sql, params }) as SqlRow | undefined;
}

/** The first column of the first row, or undefined when there is no row. */
export function* value(sql: string, params: readonly unknown[]): SqlProgram<unknown> {
  return yield { kind: "value", sql, params };
}

export function* run(sql: string, params: readonly unknown[]): SqlProgram<number> {
  return (yield { kind: "run", sql, params }) as number;
}

/**
 * A program of exactly one statement, as data: its step and what makes the answer of the statement's result. The
 * point reads on every get's path take this form, which runs without the generator protocol (measured: ~150 ns of a
 * SQLite get's ~3 µs went to the two generators of `yield* value(...)`).
 */
export interface SqlStatement<T> {
  readonly step: SqlStep;
  readonly finish: (result: StepResult) => T;
}

/** A one-statement program ({@link SqlStatement}); `finish` should be a function made once, not per call. */
export function statement<T>(kind: SqlStep["kind"], sql: string, params: readonly unknown[], finish: (result: StepResult) => T): SqlStatement<T> {
  return { step: { kind, sql, params }, finish };
}

/** What a runner takes: a program, or a one-statement program as data. */
export type SqlWork<T> = SqlProgram<T> | SqlStatement<T>;

function isStatement<T>(work: SqlWork<T>): work is SqlStatement<T> {
  return (work as Partial<SqlStatement<T>>).finish !== undefined;
}

/** The statements of a program, one at a time: a {@link SqlStatement} as the one-step program it is. */
export function* stepsOf<T>(work: SqlWork<T>): SqlProgram<T> {
  if (!isStatement(work)) return yield* work;
  return work.finish(yield work.step);
}

/** The engine operations as programs: same names and arguments, each returning the program that computes it. */
export type SqlPrograms = {
  [K in keyof EngineOps]: (...args: Parameters<EngineOps[K]>) => SqlWork<Awaited<ReturnType<EngineOps[K]>>>;
};

function execute(exec: SqlExecutor, step: SqlStep): StepResult {
  switch (step.kind) {
    case "value":
      return exec.value(step.sql, step.params);
    case "get":
      return exec.get(step.sql, step.params);
    case "all":
      return exec.all(step.sql, step.params);
    default:
      return exec.run(step.sql, step.params);
  }
}

/** Runs a program on a synchronous executor; driver errors come out through `mapError`. */
export function runSync<T>(program: SqlWork<T>, exec: SqlExecutor<"sync">, mapError: (error: unknown) => Error): T {
  try {
    if (isStatement(program)) return program.finish(execute(exec, program.step));
    let step = program.next();
    while (step.done !== true) step = program.next(execute(exec, step.value));
    return step.value;
  } catch (error) {
    throw mapError(error);
  }
}

/** Runs a program on an asynchronous executor; driver errors come out through `mapError`. */
export function runAsync<T>(program: SqlWork<T>, exec: SqlExecutor<"async">, mapError: (error: unknown) => Error): Promise<T> {
  if (!isStatement(program)) return runStepsAsync(program, exec, mapError);
  // One statement: one promise chain, no async frame (the point reads).
  let answer: Promise<unknown>;
  try {
    answer = Promise.resolve(execute(exec, program.step));
  } catch (error) {
    return Promise.reject(mapError(error));
  }
  const { finish } = program;
  return answer.then(
    (result) => {
      try {
        return finish(result);
      } catch (error) {
        throw mapError(error);
      }
    },
    (error: unknown) => {
      throw mapError(error);
    },
  );
}

async function runStepsAsync<T>(program: SqlProgram<T>, exec: SqlExecutor<"async">, mapError: (error: unknown) => Error): Promise<T> {
  try {
    let step = program.next();
    while (step.done !== true) step = program.next(await execute(exec, step.value));
    return step.value;
  } catch (error) {
    throw mapError(error);
  }
}

/** {@link EngineOps} whose every method runs its program through `runner`, which also learns the operation's name. */
export function opsOf(programs: SqlPrograms, runner: <T>(program: SqlWork<T>, name: keyof EngineOps) => Awaitable<T>): EngineOps {
  const ops: Record<string, unknown> = {};
  for (const name of Object.keys(programs) as Array<keyof SqlPrograms>) {
    const make = programs[name] as (...args: unknown[]) => SqlWork<unknown>;
    ops[name] = (...args: unknown[]) => runner(make(...args), name);
  }
  return ops as unknown as EngineOps;
}
