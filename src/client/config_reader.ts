/**
 * A cached config reader for functions that read the same keys on every request (feature
 * flags, routing tables): answers from memory while fresh, revalidates with `If-None-Match`
 * (a 304 costs no body), and when the cluster cannot be reached serves the last good value
 * for up to `maxStaleMs` (stale-if-error), saying how old it is.
 *
 * @module
 */

import type { CallOptions, EdgeraftClient } from "./edgeraft_client.ts";

/**
 * How a {@linkcode ConfigReader} caches.
 *
 * @example
 * ```ts
 * import type { ConfigReaderOptions } from "./config_reader.ts";
 * const o: ConfigReaderOptions = { freshMs: 5_000, maxStaleMs: 600_000, consistency: "stale" };
 * ```
 */
export interface ConfigReaderOptions {
  /** How long a value is served from memory without asking. Default 5 s. */
  freshMs?: number;
  /**
   * How old (since it was last confirmed) a value may be and still be served when the cluster
   * cannot be reached. Default 5 minutes; 0 turns stale-if-error off.
   */
  maxStaleMs?: number;
  /** `stale` reads any node's copy (no leader needed); default linearizable. */
  consistency?: "linearizable" | "stale";
  /** Bounds each revalidation (default: the client's own timeouts). */
  timeoutMs?: number;
  /** The clock, in ms (a test may pass its own). Default `Date.now`. */
  now?: () => number;
}

/**
 * What {@linkcode ConfigReader.get} answers: the value (null when the key is absent), its
 * revision (0 when absent), how long ago the cluster last confirmed it, and whether it is
 * served stale because the cluster could not be reached.
 *
 * @example
 * ```ts
 * import type { ConfigValue } from "./config_reader.ts";
 * const v: ConfigValue<boolean> = { key: "f", value: true, revision: 4, ageMs: 120, stale: false };
 * ```
 */
export interface ConfigValue<T = unknown> {
  key: string;
  value: T | null;
  revision: number;
  ageMs: number;
  stale: boolean;
}

interface Entry {
  value: unknown;
  revision: number;
  /** When the cluster last confirmed this value. */
  confirmedAt: number;
  /** A revalidation under way, shared by concurrent readers. */
  pending?: Promise<void>;
}

/**
 * The reader. One per process (a module-level constant in a worker), shared by its requests.
 *
 * @example
 * ```ts ignore
 * import { ConfigReader, EdgeraftClient } from "./mod.ts";
 * const reader = new ConfigReader(new EdgeraftClient({ endpoints: ["http://127.0.0.1:7001"] }));
 * const { value, ageMs, stale } = await reader.get<boolean>("app/flags/beta");
 * ```
 */
export class ConfigReader {
  readonly #client: EdgeraftClient;
  readonly #freshMs: number;
  readonly #maxStaleMs: number;
  readonly #consistency?: "linearizable" | "stale";
  readonly #timeoutMs?: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();

  constructor(client: EdgeraftClient, options: ConfigReaderOptions = {}) {
    this.#client = client;
    this.#freshMs = options.freshMs ?? 5_000;
    this.#maxStaleMs = options.maxStaleMs ?? 300_000;
    this.#consistency = options.consistency;
    this.#timeoutMs = options.timeoutMs;
    this.#now = options.now ?? Date.now;
  }

  /**
   * The key's value: from memory while fresh, else revalidated. When revalidation fails and
   * the last good value is at most `maxStaleMs` old, that value with `stale: true`; otherwise
   * the client's error.
   */
  async get<T = unknown>(key: string, options: CallOptions = {}): Promise<ConfigValue<T>> {
    let entry = this.#entries.get(key);
    if (entry && this.#now() - entry.confirmedAt < this.#freshMs) return this.#answer(key, entry);
    try {
      entry = await this.#revalidate(key, options);
      return this.#answer(key, entry);
    } catch (error) {
      entry = this.#entries.get(key);
      if (entry && this.#now() - entry.confirmedAt <= this.#maxStaleMs) {
        return this.#answer(key, entry, true);
      }
      throw error;
    }
  }

  /** Forgets every cached value. */
  clear(): void {
    this.#entries.clear();
  }

  #answer<T>(key: string, entry: Entry, stale = false): ConfigValue<T> {
    const { value, revision } = entry;
    return {
      key,
      value: value as T | null,
      revision,
      ageMs: this.#now() - entry.confirmedAt,
      stale,
    };
  }

  async #revalidate(key: string, options: CallOptions): Promise<Entry> {
    const known = this.#entries.get(key);
    if (known?.pending) {
      await known.pending;
      return this.#entries.get(key)!;
    }
    const asked = this.#now();
    const read = (async () => {
      const answer = await this.#client.getIfChanged(key, known?.revision || undefined, {
        consistency: this.#consistency,
        timeoutMs: options.timeoutMs ?? this.#timeoutMs,
        signal: options.signal,
      });
      const current = this.#entries.get(key);
      if (answer === "unchanged" && current) {
        current.confirmedAt = asked;
      } else if (answer !== "unchanged") {
        const revision = answer?.revision ?? 0;
        // A stale read from a node that lags may be older than what we have: keep ours.
        if (current && revision !== 0 && revision < current.revision) current.confirmedAt = asked;
        else {
          this.#entries.set(key, { value: answer?.value ?? null, revision, confirmedAt: asked });
        }
      }
    })();
    if (known) known.pending = read;
    try {
      await read;
    } finally {
      const entry = this.#entries.get(key);
      if (entry) entry.pending = undefined;
      if (known) known.pending = undefined;
    }
    const entry = this.#entries.get(key);
    if (!entry) throw new Error(`no value for ${key}`);
    return entry;
  }
}
