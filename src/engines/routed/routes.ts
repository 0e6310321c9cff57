import { StowageError } from "../../api/errors.js";
import type { StoreRoute } from "../../api/types.js";

/** A provider's name in a configuration: letters, digits, `_` and `-`, starting with a letter (`local`, `coord`). */
const PROVIDER_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

/**
 * Which provider holds each namespace: an exact route (`leases`), else the longest prefix route (`jobs.*` holds
 * `jobs.mail` and `jobs.` itself), else the default. Checked once, when the store opens.
 */
export class RouteTable {
  private readonly exact = new Map<string, string>();
  /** Prefix routes, longest first. */
  private readonly prefixes: Array<[prefix: string, provider: string]> = [];
  private readonly memo = new Map<string, string>();

  constructor(
    routes: Readonly<Record<string, string>>,
    readonly defaultProvider: string,
    providers: readonly string[],
  ) {
    const known = new Set(providers);
    if (!known.has(defaultProvider)) {
      throw new StowageError("INVALID_ARGUMENT", `defaultProvider ${JSON.stringify(defaultProvider)} is not one of the providers (${providers.join(", ")})`);
    }
    for (const [match, provider] of Object.entries(routes)) {
      if (typeof provider !== "string" || !known.has(provider)) {
        throw new StowageError("INVALID_ARGUMENT", `route ${JSON.stringify(match)} names provider ${JSON.stringify(provider)}, which is not one of the providers (${providers.join(", ")})`);
      }
      if (match === "" || match === "*") {
        throw new StowageError("INVALID_ARGUMENT", `route ${JSON.stringify(match)} matches every namespace: name the provider in defaultProvider instead`);
      }
      if (match.endsWith("*")) this.prefixes.push([match.slice(0, -1), provider]);
      else this.exact.set(match, provider);
    }
    this.prefixes.sort((a, b) => b[0].length - a[0].length);
  }

  /** The provider of `namespace`. */
  providerOf(namespace: string): string {
    let provider = this.memo.get(namespace);
    if (provider === undefined) {
      provider = this.exact.get(namespace) ?? this.prefixes.find(([prefix]) => namespace.startsWith(prefix))?.[1] ?? this.defaultProvider;
      // Namespaces are few and long-lived; a bound keeps a caller that makes many from growing it forever.
      if (this.memo.size >= 10_000) this.memo.clear();
      this.memo.set(namespace, provider);
    }
    return provider;
  }

  /** The routes, exact ones first, then prefixes longest first, as configured. */
  describe(): StoreRoute[] {
    return [...[...this.exact].map(([match, provider]) => ({ match, provider })), ...this.prefixes.map(([prefix, provider]) => ({ match: `${prefix}*`, provider }))];
  }
}

/** Throws INVALID_ARGUMENT unless `name` can name a provider. */
export function checkProviderName(name: string): void {
  if (!PROVIDER_NAME.test(name)) {
    throw new StowageError("INVALID_ARGUMENT", `provider names are 1 to 64 letters, digits, "_" and "-", starting with a letter; got ${JSON.stringify(name)}`);
  }
}
