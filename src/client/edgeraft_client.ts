/**
 * A fetch-only client of the edgeraft HTTP API, for edge functions (Deno, Node, Workers,
 * browsers). It imports nothing from the server.
 *
 * Writes carry a fresh `Idempotency-Key`, so the client retries them safely when no leader is
 * known (503) or the network fails: a retry is applied once and gets the first answer.
 *
 * @module
 */

import { CompactedError, EdgeraftError, LockHeldError } from "./errors.ts";
import { readSse } from "./sse.ts";

/**
 * How the client reaches a node.
 *
 * @example
 * ```ts
 * import type { ClientOptions } from "./edgeraft_client.ts";
 * const o: ClientOptions = { baseUrl: "http://127.0.0.1:7001", token: Deno.env.get("EDGERAFT_TOKEN") };
 * ```
 */
export interface ClientOptions {
  /** A node's client URL; any node answers any request. */
  baseUrl: string;
  token?: string;
  /** The fetch to use (a test can pass `(req) => app.fetch(req)`). Default: global fetch. */
  fetch?: (request: Request) => Promise<Response>;
  /** Per request, beyond any lock wait. Default 10 s. */
  timeoutMs?: number;
  /** Retries after a 503 or a network error. Default 3. */
  retries?: number;
}

/**
 * A config value.
 *
 * @example
 * ```ts
 * import type { KeyValue } from "./edgeraft_client.ts";
 * const kv: KeyValue<number> = { key: "a", value: 1, revision: 2, createRevision: 1, version: 2 };
 * ```
 */
export interface KeyValue<T = unknown> {
  key: string;
  value: T;
  revision: number;
  createRevision: number;
  version: number;
}

/**
 * A granted lock; pass `token` to every resource the lock protects.
 *
 * @example
 * ```ts
 * import type { Lease } from "./edgeraft_client.ts";
 * const l: Lease = { name: "cron", token: 42, owner: "a", ttlMs: 10_000, expiresAt: 0 };
 * ```
 */
export interface Lease {
  name: string;
  token: number;
  owner: string;
  ttlMs: number;
  expiresAt: number;
}

/**
 * One change from a watch.
 *
 * @example
 * ```ts
 * import type { WatchEvent } from "./edgeraft_client.ts";
 * const e: WatchEvent = { type: "delete", key: "a", revision: 9 };
 * ```
 */
export type WatchEvent =
  | ({ type: "put" } & KeyValue)
  | { type: "delete"; key: string; revision: number };

/** The share of the ttl a holder trusts, after clock drift (the server's MAX_DRIFT, 1%). */
const TRUSTED_SHARE = 0.99;

/**
 * The client.
 *
 * @example
 * ```ts ignore
 * import { EdgeraftClient } from "./edgeraft_client.ts";
 * const client = new EdgeraftClient({ baseUrl: "http://127.0.0.1:7001" });
 * await client.put("app/flags", { dark: true });
 * const flags = await client.get("app/flags");
 * await client.withLock("cron/daily", { ttlMs: 30_000 }, async (lease) => {
 *   await runJob({ fencingToken: lease.token, signal: lease.signal });
 * });
 * ```
 */
export class EdgeraftClient {
  readonly #base: string;
  readonly #fetch: (request: Request) => Promise<Response>;
  readonly #token?: string;
  readonly #timeoutMs: number;
  readonly #retries: number;

  constructor(options: ClientOptions) {
    this.#base = options.baseUrl.replace(/\/+$/, "");
    this.#fetch = options.fetch ?? ((request) => fetch(request));
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#retries = options.retries ?? 3;
  }

  /** A key's value, or `null` when it has none. */
  async get<T = unknown>(
    key: string,
    options: { consistency?: "linearizable" | "stale" } = {},
  ): Promise<KeyValue<T> | null> {
    const query = options.consistency ? `?consistency=${options.consistency}` : "";
    const response = await this.#send("GET", `/v1/config/${encodeURIComponent(key)}${query}`, {
      allow: [404],
    });
    return response.status === 404 ? null : await response.json();
  }

  /** Writes a value; `ifRevision` makes it a compare-and-set (0: only if absent). */
  async put(
    key: string,
    value: unknown,
    options: { ifRevision?: number; ifAbsent?: boolean } = {},
  ): Promise<{ key: string; revision: number; createRevision: number; version: number }> {
    const headers: Record<string, string> = {};
    if (options.ifRevision !== undefined) headers["if-match"] = `"${options.ifRevision}"`;
    if (options.ifAbsent) headers["if-none-match"] = "*";
    const response = await this.#send("PUT", `/v1/config/${encodeURIComponent(key)}`, {
      body: value,
      headers,
    });
    return await response.json();
  }

  /** Deletes a value; `null` when there was none. */
  async delete(
    key: string,
    options: { ifRevision?: number } = {},
  ): Promise<{ key: string; revision: number } | null> {
    const headers: Record<string, string> = {};
    if (options.ifRevision !== undefined) headers["if-match"] = `"${options.ifRevision}"`;
    const response = await this.#send("DELETE", `/v1/config/${encodeURIComponent(key)}`, {
      headers,
      allow: [404],
      write: true,
    });
    return response.status === 404 ? null : await response.json();
  }

  /** One page of the values under a prefix; pass `next` as `after` for the following page. */
  async list(
    options: { prefix?: string; limit?: number; after?: string; consistency?: "stale" } = {},
  ): Promise<{ items: KeyValue[]; revision: number; next: string | null }> {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(options)) {
      if (value !== undefined) query.set(name, String(value));
    }
    return await (await this.#send("GET", `/v1/config?${query}`)).json();
  }

  /**
   * The changes under `prefix`, from `fromRevision` (default: the next change) on. The stream
   * resumes by itself after a disconnection; it throws {@linkcode CompactedError} when the
   * history it needs is gone. Stop it with `signal` or by leaving the loop.
   */
  async *watch(
    prefix = "",
    options: { fromRevision?: number; signal?: AbortSignal } = {},
  ): AsyncGenerator<WatchEvent> {
    let from = options.fromRevision;
    while (!options.signal?.aborted) {
      const query = new URLSearchParams({ prefix });
      if (from !== undefined) query.set("fromRevision", String(from));
      let response: Response;
      try {
        response = await this.#send("GET", `/v1/watch?${query}`, {
          signal: options.signal,
          stream: true,
        });
      } catch (error) {
        if (options.signal?.aborted) return;
        throw error;
      }
      try {
        for await (const message of readSse(response.body!, options.signal)) {
          const data = JSON.parse(message.data);
          if (message.event === "compacted") throw new CompactedError(data.compactedRevision);
          if (message.event !== "put" && message.event !== "delete") continue;
          from = data.revision + 1;
          yield { type: message.event, ...data };
        }
      } catch (error) {
        if (options.signal?.aborted || error instanceof CompactedError) {
          if (error instanceof CompactedError) throw error;
          return;
        }
        // The connection broke: resume after the last event seen.
      }
    }
  }

  /**
   * Takes a lock. Without `waitMs` it is a try-lock; with it, the call waits in line up to
   * that long. Throws {@linkcode LockHeldError} when the lock is (or stayed) held.
   */
  async acquire(
    name: string,
    options: { ttlMs: number; owner?: string; waitMs?: number; signal?: AbortSignal },
  ): Promise<Lease> {
    const { ttlMs, owner, waitMs } = options;
    const response = await this.#send("POST", `/v1/locks/${encodeURIComponent(name)}/acquire`, {
      body: { ttlMs, owner, waitMs },
      extraTimeMs: waitMs ?? 0,
      signal: options.signal,
    });
    return await response.json();
  }

  /** Extends the lease held with `token`. */
  async renew(name: string, token: number): Promise<{ expiresAt: number }> {
    const path = `/v1/locks/${encodeURIComponent(name)}/renew`;
    return await (await this.#send("POST", path, { body: { token } })).json();
  }

  /** Releases the lock held with `token`. */
  async release(name: string, token: number): Promise<void> {
    const path = `/v1/locks/${encodeURIComponent(name)}/release`;
    await (await this.#send("POST", path, { body: { token } })).body?.cancel();
  }

  /**
   * Runs `fn` while holding the lock: it renews the lease every third of its ttl, aborts
   * `lease.signal` when the lease can no longer be trusted (a renew failed, or the lease ran out
   * by this client's clock), and releases the lock when `fn` settles. Pass `lease.token` to
   * every resource the lock protects.
   */
  async withLock<T>(
    name: string,
    options: { ttlMs: number; owner?: string; waitMs?: number },
    fn: (lease: Lease & { signal: AbortSignal }) => Promise<T>,
  ): Promise<T> {
    const sent = Date.now();
    const lease = await this.acquire(name, options);
    const lost = new AbortController();
    let trustedUntil = sent + options.ttlMs * TRUSTED_SHARE;
    const expiry = () =>
      setTimeout(() => lost.abort(new Error("the lease ran out")), trustedUntil - Date.now());
    let expiryTimer = expiry();
    const renewTimer = setInterval(async () => {
      const renewSent = Date.now();
      try {
        await this.renew(name, lease.token);
        trustedUntil = renewSent + options.ttlMs * TRUSTED_SHARE;
        clearTimeout(expiryTimer);
        expiryTimer = expiry();
      } catch (error) {
        if (error instanceof EdgeraftError && error.status === 409) lost.abort(error);
      }
    }, Math.max(1, Math.floor(options.ttlMs / 3)));
    try {
      return await fn({ ...lease, signal: lost.signal });
    } finally {
      clearInterval(renewTimer);
      clearTimeout(expiryTimer);
      await this.release(name, lease.token).catch(() => {});
    }
  }

  async #send(
    method: string,
    path: string,
    options: {
      body?: unknown;
      headers?: Record<string, string>;
      allow?: number[];
      write?: boolean;
      extraTimeMs?: number;
      signal?: AbortSignal;
      stream?: boolean;
    } = {},
  ): Promise<Response> {
    const headers = new Headers(options.headers);
    if (this.#token) headers.set("authorization", `Bearer ${this.#token}`);
    if (options.body !== undefined) headers.set("content-type", "application/json");
    if (options.body !== undefined || options.write) {
      headers.set("idempotency-key", crypto.randomUUID());
    }
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    for (let attempt = 0;; attempt++) {
      const signals = [options.signal].filter((s): s is AbortSignal => s !== undefined);
      if (!options.stream) {
        signals.push(AbortSignal.timeout(this.#timeoutMs + (options.extraTimeMs ?? 0)));
      }
      const request = new Request(this.#base + path, {
        method,
        headers,
        body,
        signal: AbortSignal.any(signals),
      });
      let response: Response;
      try {
        response = await this.#fetch(request);
      } catch (error) {
        if (attempt >= this.#retries || options.signal?.aborted) throw error;
        await backoff(attempt);
        continue;
      }
      if (response.ok || options.allow?.includes(response.status)) return response;
      const problem = await response.json().catch(() => ({}));
      if (response.status === 503 && attempt < this.#retries) {
        await backoff(attempt, Number(response.headers.get("retry-after")) * 1000);
        continue;
      }
      if (response.status === 409 && problem.type === "urn:edgeraft:problem:lock-held") {
        throw new LockHeldError(problem);
      }
      throw new EdgeraftError(response.status, problem);
    }
  }
}

function backoff(attempt: number, hintMs = 0): Promise<void> {
  const ms = Math.min(hintMs || 50 * 2 ** attempt, 2000);
  return new Promise((resolve) => setTimeout(resolve, ms));
}
