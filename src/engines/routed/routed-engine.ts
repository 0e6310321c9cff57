import { StowageError } from "../../api/errors.js";
import type { NamespaceInfo } from "../../api/types.js";
import { probeEngine } from "../../store/health.js";
import type { ChangeSource } from "../change-signal.js";
import type { Awaitable, Engine, EngineDescription, EngineFacts, EngineLimits, EngineOps, EngineSupports } from "../engine.js";
import { namespaceOf, opsCalling, runCall, type CallResult, type EngineCall } from "../engine-calls.js";
import { dumpRefused } from "../dump-refused.js";
import type { RouteTable } from "./routes.js";

/** A namespace as a routed store's `info()` reports it: with the provider that holds it. */
export interface RoutedNamespaceInfo extends NamespaceInfo {
  provider: string;
}

/**
 * One engine over several named providers (each any engine): every call goes to the provider its namespace is routed
 * to, calls of the whole store (the sweep, history trims, `describe`) go to every provider, and a transaction runs
 * on the provider of its first namespace. A transaction that takes a handle of a namespace routed elsewhere is
 * refused with NOT_SUPPORTED as it takes it, before any I/O (see {@link RoutedEngine.transactionGuard}): no commit
 * spans providers, since no engine here can make one atomic across another.
 *
 * The manifest is what every provider supports: a capability all of them have, the tightest of their limits.
 */
export class RoutedEngine implements Engine {
  readonly name = "routed";
  readonly location: string;
  readonly supports: EngineSupports;
  readonly changes?: ChangeSource;

  constructor(
    private readonly providers: ReadonlyMap<string, Engine>,
    private readonly routes: RouteTable,
  ) {
    this.location = [...providers].map(([name, engine]) => `${name}=${engine.name}:${engine.location}`).join(", ");
    this.supports = commonSupports([...providers.values()].map((engine) => engine.supports));
    const sources = [...providers.values()].map((engine) => engine.changes);
    if (this.supports.liveFeeds && sources.every((source) => source !== undefined)) this.changes = new MergedChanges(sources as ChangeSource[]);
  }

  read<C extends EngineCall>(call: C): Awaitable<CallResult<C>> {
    if (call.op === "describe") return this.describe(call.args[0] as number) as Promise<CallResult<C>>;
    return this.engineOf(call).read(call);
  }

  async write<C extends EngineCall>(call: C): Promise<CallResult<C>> {
    if (namespaceOf(call) !== undefined) return this.engineOf(call).write(call);
    // The sweep and history trims: each provider removes its own; the counts add up.
    const counts = await Promise.all([...this.providers.values()].map((engine) => engine.write(call)));
    return counts.reduce((sum: number, count) => sum + (count as number), 0) as CallResult<C>;
  }

  /**
   * The transaction starts on the provider of the first namespace a call uses (a body that calls nothing starts
   * none). The store refuses a handle of another provider's namespace before this sees a call of it; should one come
   * anyway (a layer that does not pass the guard on), it fails NOT_SUPPORTED and the transaction rolls back.
   */
  async transaction<T>(body: (ops: EngineOps) => Promise<T>): Promise<T> {
    let first: string | undefined;
    return inHeldScopes(
      (provider, inner) => this.providerEngine(provider).transaction(inner),
      (namespace) => {
        const provider = this.routes.providerOf(namespace);
        if (first === undefined) first = provider;
        else if (first !== provider) throw spansProviders(first, provider, namespace);
        return provider;
      },
      "a transaction",
      body,
    );
  }

  /**
   * A snapshot of each provider, opened as the body first reads one of its namespaces and held until the body
   * returns: each provider's namespaces are read at one point in time of that provider (no two providers share one).
   */
  snapshot<T>(body: (ops: EngineOps) => Promise<T>): Promise<T> {
    return inHeldScopes(
      (provider, inner) => {
        const engine = this.providerEngine(provider);
        return engine.snapshot === undefined ? Promise.reject(dumpRefused(`provider "${provider}" (${engine.name})`)) : engine.snapshot(inner);
      },
      (namespace) => this.routes.providerOf(namespace),
      "a snapshot",
      body,
      // The namespace list comes from each provider's latest data, not its snapshot: a dump reads each listed namespace from its snapshot.
      (call) => (call.op === "describe" ? this.describe(call.args[0] as number) : undefined),
    );
  }

  /**
   * For the store: a check, run as a transaction takes each handle, that refuses a namespace routed to another
   * provider than the transaction's first one, before any I/O.
   */
  transactionGuard(): (primitive: string, namespace: string) => void {
    let first: { provider: string; namespace: string } | undefined;
    return (_primitive, namespace) => {
      const provider = this.routes.providerOf(namespace);
      if (first === undefined) first = { provider, namespace };
      else if (first.provider !== provider) throw spansProviders(first.provider, provider, namespace, first.namespace);
    };
  }

  async check(): Promise<string[]> {
    const reports = await Promise.all([...this.providers].map(async ([name, engine]) => (await engine.check()).map((problem) => `${name}: ${problem}`)));
    return reports.flat();
  }

  async facts(): Promise<EngineFacts> {
    const facts: Record<string, number | string | boolean> = {};
    const warnings: string[] = [];
    for (const [name, engine] of this.providers) {
      const own = (await engine.facts?.()) ?? { facts: {}, warnings: [] };
      facts[`${name}.engine`] = engine.name;
      for (const [fact, value] of Object.entries(own.facts)) facts[`${name}.${fact}`] = value;
      warnings.push(...own.warnings.map((warning) => `${name}: ${warning}`));
    }
    return { facts, warnings };
  }

  /** Every provider's probe: a routed store is healthy only when all of them answer. */
  async probe(): Promise<unknown> {
    await Promise.all([...this.providers].map(([name, engine]) => probeEngine(engine).catch((error: unknown) => Promise.reject(inProvider(name, error)))));
    return undefined;
  }

  async close(): Promise<void> {
    const closed = await Promise.allSettled([...this.providers.values()].map((engine) => engine.close()));
    const failed = closed.find((outcome) => outcome.status === "rejected");
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
  }

  /** Each provider's namespaces that route to it (data a provider holds for other routes is not reachable here). */
  private async describe(now: number): Promise<EngineDescription> {
    const described = await Promise.all(
      [...this.providers].map(async ([name, engine]) => ({ name, description: await engine.read({ op: "describe", args: [now] }) })),
    );
    const namespaces: RoutedNamespaceInfo[] = [];
    let storedRows = 0;
    for (const { name, description } of described) {
      storedRows += description.storedRows;
      for (const info of description.namespaces) if (this.routes.providerOf(info.namespace) === name) namespaces.push({ ...info, provider: name });
    }
    const routing = { routes: this.routes.describe(), defaultProvider: this.routes.defaultProvider };
    return { schemaVersion: Math.max(...described.map(({ description }) => description.schemaVersion)), namespaces, storedRows, routing };
  }

  private engineOf(call: EngineCall): Engine {
    return this.providerEngine(this.routes.providerOf(namespaceOf(call) as string));
  }

  private providerEngine(provider: string): Engine {
    return this.providers.get(provider) as Engine;
  }
}

function spansProviders(first: string, other: string, namespace: string, firstNamespace?: string): StowageError {
  return new StowageError(
    "NOT_SUPPORTED",
    `a transaction cannot span providers: it uses ${firstNamespace === undefined ? "" : `namespace "${firstNamespace}" on `}provider "${first}", and namespace "${namespace}" is routed to provider "${other}"`,
    { namespace },
  );
}

function inProvider(name: string, error: unknown): unknown {
  if (error instanceof StowageError) return new StowageError(error.code, `provider ${name}: ${error.message}`, { cause: error });
  return error;
}

/** A promise that never settles: a scope's end stands in for its ops only when it failed before them. */
function never<T>(): Promise<T> {
  return new Promise<T>(() => undefined);
}

/**
 * Runs `body` over scopes (transactions, snapshots) of the providers it uses, each opened by `open` as the body first
 * calls a namespace `providerFor` routes to it (which may refuse one, by throwing), and held open until the body
 * settles: then each commits (or releases), or rolls back when the body threw. A body that calls nothing opens none.
 */
async function inHeldScopes<T>(
  open: (provider: string, inner: (ops: EngineOps) => Promise<void>) => Promise<void>,
  providerFor: (namespace: string) => string,
  what: string,
  body: (ops: EngineOps) => Promise<T>,
  wholeStore?: (call: EngineCall) => Promise<unknown> | undefined,
): Promise<T> {
  const scopes = new Map<string, { ops: Promise<EngineOps>; done: Promise<void> }>();
  let bodyReturned!: () => void;
  let bodyThrew!: (error: unknown) => void;
  const bodySettled = new Promise<void>((resolve, reject) => {
    bodyReturned = resolve;
    bodyThrew = reject;
  });
  // Awaited only by a provider's scope; a body that fails before it opens one must not leave it unhandled.
  bodySettled.catch(() => undefined);
  const opsOf = (namespace: string): Promise<EngineOps> => {
    const provider = providerFor(namespace);
    let scope = scopes.get(provider);
    if (scope === undefined) {
      let ready!: (ops: EngineOps) => void;
      const ops = new Promise<EngineOps>((resolve) => (ready = resolve));
      const done = open(provider, async (inner) => {
        ready(inner);
        await bodySettled;
      });
      scope = { ops: Promise.race([ops, done.then(() => never<EngineOps>())]), done };
      scopes.set(provider, scope);
    }
    return scope.ops;
  };
  const routed = opsCalling(async (call) => {
    const namespace = namespaceOf(call);
    if (namespace === undefined) {
      const answer = wholeStore?.(call);
      if (answer === undefined) throw new StowageError("INTERNAL", `${call.op} is not an operation of ${what} on a routed store`);
      return answer;
    }
    return runCall(await opsOf(namespace), call);
  });
  let result: T;
  try {
    result = await body(routed);
  } catch (error) {
    bodyThrew(error);
    // The providers roll back; their own failures (if any) matter less than the body's.
    await Promise.allSettled([...scopes.values()].map((scope) => scope.done));
    throw error;
  }
  bodyReturned();
  const ended = await Promise.allSettled([...scopes.values()].map((scope) => scope.done));
  const failed = ended.find((outcome) => outcome.status === "rejected");
  if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
  return result;
}

/** What every provider supports: capabilities all of them have, and the tightest of each limit. */
export function commonSupports(all: readonly EngineSupports[]): EngineSupports {
  const limits = {} as Record<keyof EngineLimits, number>;
  for (const name of Object.keys(all[0]!.limits) as Array<keyof EngineLimits>) limits[name] = Math.min(...all.map((supports) => supports.limits[name]));
  return Object.freeze({
    liveFeeds: all.every((supports) => supports.liveFeeds),
    kvHistory: all.every((supports) => supports.kvHistory),
    crossProcess: all.every((supports) => supports.crossProcess),
    crossNamespaceTransactions: all.every((supports) => supports.crossNamespaceTransactions),
    workQueues: all.every((supports) => supports.workQueues),
    limits: Object.freeze(limits),
  });
}

/**
 * The providers' change sources as one: the generation is their sum, so it grows when any of theirs does; a wait
 * ends when one of them moves on (its own waits are ended then, so a long-lived feed leaves no listeners behind).
 */
export class MergedChanges implements ChangeSource {
  constructor(private readonly sources: readonly ChangeSource[]) {}

  get generation(): number {
    return this.sources.reduce((sum, source) => sum + source.generation, 0);
  }

  watch(): () => void {
    const ends = this.sources.map((source) => source.watch());
    return () => ends.forEach((end) => end());
  }

  async wait(seen: number, signal: AbortSignal): Promise<void> {
    if (this.generation > seen || signal.aborted) return;
    const first = new AbortController();
    const stop = () => first.abort();
    signal.addEventListener("abort", stop, { once: true });
    try {
      // Generations only grow: the sum is still `seen`, so each source's own generation now is where it was.
      await Promise.race(this.sources.map((source) => source.wait(source.generation, first.signal)));
    } finally {
      signal.removeEventListener("abort", stop);
      first.abort();
    }
  }
}
