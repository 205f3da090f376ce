/**
 * A fetch-only client of the edgeraft HTTP API, for edge functions (Deno, Node, Workers,
 * browsers). It imports nothing from the server.
 *
 * It takes one node's URL or several. Writes, lock calls and linearizable reads go to the leader
 * once a node named it in `X-Leader` (a follower would pass them on: one more round trip across
 * a WAN), reads that allow staleness to the endpoint whose stale reads answered fastest (each
 * endpoint is tried once first), anything else to the endpoint that last worked; every route
 * falls back to the other endpoints. A request that meets a network error, a 503 (no leader)
 * or a 504 (outcome unknown) is tried again, on the next endpoint, or on the leader when a node
 * named it in `X-Leader` and it is one of the endpoints, with a growing pause. Reads are always
 * retried; writes only because each carries a fresh `Idempotency-Key` (a retry is applied once
 * and gets the first answer), or when the connection was refused (nothing was sent). A write
 * without either is never retried: that would turn an unknown outcome into a duplicate.
 * Failures are {@linkcode EdgeraftError}s, typed by what a caller does next (see errors.ts):
 * `NotFoundError`, `ConflictError` (and `LockHeldError`), `PreconditionFailedError`,
 * `UnauthorizedError`, `UnavailableError` (503, or a {@linkcode NetworkError} when no node
 * answered a read), and `OutcomeUnknownError` (a write that got a 504 or no answer, after its
 * retries).
 *
 * @module
 */

import {
  CompactedError,
  EdgeraftError,
  NetworkError,
  OutcomeUnknownError,
  problemError,
  WatchFailedError,
} from "./errors.ts";
import { LeaseKeeper } from "./lease_keeper.ts";
import { readSse } from "./sse.ts";

/**
 * How the client reaches a node.
 *
 * @example
 * ```ts
 * import type { ClientOptions } from "./edgeraft_client.ts";
 * const o: ClientOptions = {
 *   endpoints: ["http://10.0.0.1:7001", "http://10.0.0.2:7001", "http://10.0.0.3:7001"],
 *   token: "b7e4d1c0a9f8e7d6c5b4a3f2e1d0c9b8",
 * };
 * ```
 */
export interface ClientOptions {
  /**
   * A node's client URL, or several: any node answers any request, and the client moves to the
   * next one when a node fails. List every node to survive the loss of any of them.
   */
  endpoints?: string | readonly string[];
  /** The former name of `endpoints`, still accepted. */
  baseUrl?: string | readonly string[];
  /** The bearer token, when the cluster has tokens configured. */
  token?: string;
  /** The fetch to use (a test can pass `(req) => app.fetch(req)`). Default: global fetch. */
  fetch?: (request: Request) => Promise<Response>;
  /**
   * Per attempt of a request, beyond any lock wait (for a watch: until its headers); a node
   * that takes longer is treated as failed. Default 10 s. A whole call's deadline is
   * {@linkcode CallOptions.timeoutMs}.
   */
  timeoutMs?: number;
  /**
   * How long a watch may hear nothing, not even a heartbeat (the server sends one every 15 s by
   * default), before it takes the connection for dead and reconnects. Default 45 s.
   */
  watchIdleMs?: number;
  /**
   * Retries of a request after a network error, a 503 or a 504 (see the module doc), with
   * pauses from 50 ms doubling up to 1 s: the default 8 spans about 4.5 s, several elections.
   * A watch gives up after this many reconnections in a row without progress.
   */
  retries?: number;
}

/**
 * What every call takes: `signal` cancels it, `timeoutMs` bounds it as a whole, retries
 * included. Either one ending the call rejects it with the signal's reason (an `AbortError` or
 * `TimeoutError` DOMException); a write cut short may or may not have been applied.
 *
 * @example
 * ```ts
 * import type { CallOptions } from "./edgeraft_client.ts";
 * const o: CallOptions = { signal: AbortSignal.timeout(2_000), timeoutMs: 1_500 };
 * ```
 */
export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

/**
 * A lock's state: its holder (null when free) and the waiters in line.
 *
 * @example
 * ```ts
 * import type { LockState } from "./edgeraft_client.ts";
 * const s: LockState = { name: "cron", holder: null, waiters: [] };
 * ```
 */
export interface LockState {
  name: string;
  holder: { token: number; owner: string; expiresAt: number } | null;
  waiters: { waiterId: string; owner: string; deadline: number }[];
}

/**
 * The cluster as one node sees it (`GET /v1/cluster`).
 *
 * @example
 * ```ts
 * import type { ClusterView } from "./edgeraft_client.ts";
 * const v: ClusterView = {
 *   clusterId: "c", nodeId: 1, leaderId: 1, term: 2, commitIndex: 9, appliedIndex: 9,
 *   members: [{ id: 1, url: "http://127.0.0.1:7001", peerUrl: null, role: "leader", matchIndex: 9 }],
 * };
 * ```
 */
export interface ClusterView {
  clusterId: string;
  nodeId: number;
  leaderId: number | null;
  term: number;
  commitIndex: number;
  appliedIndex: number;
  members: {
    id: number;
    url: string | null;
    peerUrl: string | null;
    role: string;
    matchIndex: number | null;
  }[];
}

/**
 * A member as `GET /v1/members` lists it: `matchIndex` and `lastContactMs` are the leader's
 * knowledge (null for the leader itself, or when no leader answered).
 *
 * @example
 * ```ts
 * import type { Member } from "./edgeraft_client.ts";
 * const m: Member = {
 *   id: 4, peerUrl: "http://10.0.0.4:7104", clientUrl: "http://10.0.0.4:7004",
 *   role: "learner", matchIndex: 120, lastContactMs: 8,
 * };
 * ```
 */
export interface Member {
  id: number;
  peerUrl: string;
  clientUrl: string;
  role: "voter" | "learner";
  matchIndex: number | null;
  lastContactMs: number | null;
}

/**
 * A backup file as `GET /v1/snapshot` sends it: its bytes, the applied index and term it holds,
 * and the file name the node suggests.
 *
 * @example
 * ```ts
 * import type { SnapshotFile } from "./edgeraft_client.ts";
 * const s: SnapshotFile = {
 *   bytes: new Uint8Array(), index: 42, term: 3, fileName: "edgeraft-prod-42.backup",
 * };
 * ```
 */
export interface SnapshotFile {
  bytes: Uint8Array;
  index: number;
  term: number;
  fileName: string | null;
}

/**
 * How {@linkcode EdgeraftClient.withLock} takes its lock. Default ttl 30 s, no wait (a
 * try-lock that throws {@linkcode LockHeldError} when held).
 *
 * @example
 * ```ts
 * import type { LockOptions } from "./edgeraft_client.ts";
 * const o: LockOptions = { ttlMs: 30_000, waitMs: 10_000, owner: "cron@host-1" };
 * ```
 */
export interface LockOptions {
  ttlMs?: number;
  owner?: string;
  waitMs?: number;
  /**
   * How long before the lease stops being trusted `signal` aborts (default a tenth of the ttl,
   * at most 1 s): time for the work to stop while it still holds the lock.
   */
  marginMs?: number;
  signal?: AbortSignal;
}

/**
 * What `withLock`'s function gets: the lease, its fencing `token`, and a `signal` aborted
 * before the lease can no longer be trusted.
 *
 * @example
 * ```ts
 * import type { HeldLock } from "./edgeraft_client.ts";
 * const held: HeldLock = {
 *   name: "cron", token: 42, owner: "a", ttlMs: 30_000, expiresAt: 0,
 *   signal: new AbortController().signal,
 * };
 * ```
 */
export type HeldLock = Lease & { signal: AbortSignal };

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

/** The ttl of `withLock` when none is given. */
const DEFAULT_TTL_MS = 30_000;

/**
 * The client.
 *
 * @example
 * ```ts ignore
 * import { EdgeraftClient } from "./edgeraft_client.ts";
 * const client = new EdgeraftClient({ endpoints: ["http://127.0.0.1:7001", "http://127.0.0.1:7002"] });
 * await client.put("app/flags", { dark: true });
 * const flags = await client.get("app/flags");
 * await client.withLock("cron/daily", async ({ token, signal }) => {
 *   await runJob({ fencingToken: token, signal });
 * });
 * ```
 */
export class EdgeraftClient {
  readonly #endpoints: readonly string[];
  readonly #fetch: (request: Request) => Promise<Response>;
  readonly #token?: string;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #watchIdleMs: number;
  /** The endpoint new requests go to; it moves on when that node fails. */
  #preferred = 0;
  /**
   * The endpoint that is the leader, as the last `X-Leader` named it: writes, lock calls and
   * linearizable reads go there first (a follower would pass them on, one more round trip).
   */
  #leader: number | undefined;
  /** Each endpoint's stale-read latency (ms), for stale reads to go to the nearest. */
  readonly #latencyMs: (number | undefined)[] = [];
  /** When each endpoint last failed (performance.now()). */
  readonly #failedAt: (number | undefined)[] = [];

  constructor(options: ClientOptions) {
    const given = options.endpoints ?? options.baseUrl ?? [];
    const urls = typeof given === "string" ? [given] : [...given];
    if (urls.length === 0 || urls.some((url) => typeof url !== "string" || url === "")) {
      throw new TypeError("endpoints must be a URL or a non-empty list of URLs");
    }
    this.#endpoints = urls.map((url) => url.replace(/\/+$/, ""));
    this.#fetch = options.fetch ?? ((request) => fetch(request));
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#retries = options.retries ?? 8;
    this.#watchIdleMs = options.watchIdleMs ?? 45_000;
  }

  /** The endpoints, in the order given (without trailing slashes). */
  get endpoints(): readonly string[] {
    return this.#endpoints;
  }

  /** A key's value, or `null` when it has none. */
  async get<T = unknown>(
    key: string,
    options: { consistency?: "linearizable" | "stale" } & CallOptions = {},
  ): Promise<KeyValue<T> | null> {
    const query = options.consistency ? `?consistency=${options.consistency}` : "";
    const response = await this.#send("GET", `/v1/config/${encodeURIComponent(key)}${query}`, {
      ...options,
      allow: [404],
      route: readRoute(options.consistency),
    });
    return response.status === 404 ? null : await response.json();
  }

  /**
   * A conditional read: `"unchanged"` when the key is still at `revision` (the server answers
   * `If-None-Match` with a 304 and no body), else its value, or `null` when absent.
   */
  async getIfChanged<T = unknown>(
    key: string,
    revision: number | undefined,
    options: { consistency?: "linearizable" | "stale" } & CallOptions = {},
  ): Promise<KeyValue<T> | null | "unchanged"> {
    const query = options.consistency ? `?consistency=${options.consistency}` : "";
    const headers: Record<string, string> = {};
    if (revision !== undefined) headers["if-none-match"] = `"${revision}"`;
    const response = await this.#send("GET", `/v1/config/${encodeURIComponent(key)}${query}`, {
      ...options,
      headers,
      allow: [304, 404],
      route: readRoute(options.consistency),
    });
    if (response.status === 304) return "unchanged";
    return response.status === 404 ? null : await response.json();
  }

  /** Writes a value; `ifRevision` makes it a compare-and-set (0: only if absent). */
  async put(
    key: string,
    value: unknown,
    options: { ifRevision?: number; ifAbsent?: boolean } & CallOptions = {},
  ): Promise<{ key: string; revision: number; createRevision: number; version: number }> {
    const headers: Record<string, string> = {};
    if (options.ifRevision !== undefined) headers["if-match"] = `"${options.ifRevision}"`;
    if (options.ifAbsent) headers["if-none-match"] = "*";
    const response = await this.#send("PUT", `/v1/config/${encodeURIComponent(key)}`, {
      ...options,
      body: value,
      headers,
    });
    return await response.json();
  }

  /** Deletes a value; `null` when there was none. */
  async delete(
    key: string,
    options: { ifRevision?: number } & CallOptions = {},
  ): Promise<{ key: string; revision: number } | null> {
    const headers: Record<string, string> = {};
    if (options.ifRevision !== undefined) headers["if-match"] = `"${options.ifRevision}"`;
    const response = await this.#send("DELETE", `/v1/config/${encodeURIComponent(key)}`, {
      ...options,
      headers,
      allow: [404],
      write: true,
    });
    return response.status === 404 ? null : await response.json();
  }

  /** One page of the values under a prefix; pass `next` as `after` for the following page. */
  async list(
    options:
      & { prefix?: string; limit?: number; after?: string; consistency?: "stale" }
      & CallOptions = {},
  ): Promise<{ items: KeyValue[]; revision: number; next: string | null }> {
    const { signal, timeoutMs, ...params } = options;
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) {
      if (value !== undefined) query.set(name, String(value));
    }
    const route = readRoute(params.consistency);
    return await (await this.#send("GET", `/v1/config?${query}`, { signal, timeoutMs, route }))
      .json();
  }

  /** A lock's holder and waiters. */
  async lockState(
    name: string,
    options: { consistency?: "stale" } & CallOptions = {},
  ): Promise<LockState> {
    const query = options.consistency ? `?consistency=${options.consistency}` : "";
    const path = `/v1/locks/${encodeURIComponent(name)}${query}`;
    const route = readRoute(options.consistency);
    return await (await this.#send("GET", path, { ...options, route })).json();
  }

  /** The cluster as the node asked sees it (make a client of one endpoint to ask that node). */
  async cluster(options: CallOptions = {}): Promise<ClusterView> {
    return await (await this.#send("GET", "/v1/cluster", options)).json();
  }

  /** Every member with its role and the leader's view of its progress (admin scope). */
  async members(options: CallOptions = {}): Promise<Member[]> {
    return await (await this.#send("GET", "/v1/members", options)).json();
  }

  /**
   * Adds a learner (admin scope): it receives the log but does not vote until
   * {@linkcode promoteMember}. Membership changes are not idempotent: a change is retried only
   * when the cluster said it made nothing (503 `no-leader`) or the connection was refused; an
   * unknown outcome is an {@linkcode OutcomeUnknownError} (`members()` tells what happened).
   */
  async addMember(
    member: { peerUrl: string; clientUrl: string; id?: number },
    options: CallOptions = {},
  ): Promise<Member> {
    const body = { ...member, role: "learner" };
    return await (await this.#send("POST", "/v1/members", { ...options, body, once: true }))
      .json();
  }

  /** Makes a learner a voter once it has caught up (admin scope; see `addMember`). */
  async promoteMember(id: number, options: CallOptions = {}): Promise<Member> {
    const path = `/v1/members/${id}/promote`;
    return await (await this.#send("POST", path, { ...options, write: true, once: true })).json();
  }

  /** Removes a member (admin scope; see `addMember`); the leader hands over first if it is it. */
  async removeMember(id: number, options: CallOptions = {}): Promise<{ removed: number }> {
    const path = `/v1/members/${id}`;
    return await (await this.#send("DELETE", path, { ...options, write: true, once: true }))
      .json();
  }

  /**
   * Hands leadership to voter `to` (default: the most caught-up live one); resolves with the
   * leader once it is in place (admin scope).
   */
  async transferLeader(
    to?: number,
    options: CallOptions = {},
  ): Promise<{ leader: number }> {
    const body = to === undefined ? {} : { to };
    return await (await this.#send("POST", "/v1/leader/transfer", { ...options, body, once: true }))
      .json();
  }

  /**
   * A backup file of the state (admin scope): by default with every write acknowledged before
   * the call; `consistency: "stale"` takes the answering node's state as it is (also when the
   * cluster has no quorum).
   */
  async snapshot(
    options: { consistency?: "linearizable" | "stale" } & CallOptions = {},
  ): Promise<SnapshotFile> {
    const query = options.consistency ? `?consistency=${options.consistency}` : "";
    const response = await this.#send("GET", `/v1/snapshot${query}`, options);
    const disposition = response.headers.get("content-disposition") ?? "";
    return {
      bytes: new Uint8Array(await response.arrayBuffer()),
      index: Number(response.headers.get("x-snapshot-index")),
      term: Number(response.headers.get("x-snapshot-term")),
      fileName: /filename="([^"]+)"/.exec(disposition)?.[1] ?? null,
    };
  }

  /**
   * The changes under `prefix`, from `fromRevision` (default: the next change) on. The stream
   * resumes by itself after a disconnection, on another endpoint if its node is gone, from the
   * revision after the last event it yielded. It throws {@linkcode CompactedError} when the
   * history it needs is gone, the server's {@linkcode EdgeraftError} when the watch is refused
   * (4xx), and {@linkcode WatchFailedError} after `retries` reconnections in a row that brought
   * neither an event nor a heartbeat. Stop it with `signal` or by leaving the loop.
   */
  async *watch(
    prefix = "",
    options: { fromRevision?: number; signal?: AbortSignal } = {},
  ): AsyncGenerator<WatchEvent> {
    const { signal } = options;
    let from = options.fromRevision;
    let failures = 0;
    while (!signal?.aborted) {
      const query = new URLSearchParams({ prefix });
      if (from !== undefined) query.set("fromRevision", String(from));
      let progressed = false;
      let failure: unknown;
      const endpoint = this.#preferred;
      let url = this.#endpoints[endpoint];
      // A node that is paused, or a connection that died without a word, answers nothing:
      // give up on the connection after timeoutMs without headers or watchIdleMs of silence.
      const connection = new AbortController();
      let silence: ReturnType<typeof setTimeout> | undefined;
      const expect = (ms: number | undefined) => {
        clearTimeout(silence);
        if (ms === undefined) return;
        silence = setTimeout(() => connection.abort(new Error(`nothing heard in ${ms} ms`)), ms);
      };
      const connectionSignal = signal
        ? AbortSignal.any([signal, connection.signal])
        : connection.signal;
      expect(this.#timeoutMs);
      try {
        const response = await this.#send("GET", `/v1/watch?${query}`, {
          signal: connectionSignal,
          stream: true,
          // This loop retries, and counts the attempts that got nowhere.
          retries: 0,
        });
        // Without a start the stream begins after X-Revision: resume from there, not from
        // "the next change" of a later connection, which would skip what came in between.
        url = response.url || url;
        const start = Number(response.headers.get("x-revision"));
        if (from === undefined && Number.isSafeInteger(start)) from = start + 1;
        expect(this.#watchIdleMs);
        const onComment = (text: string) => {
          expect(this.#watchIdleMs);
          if (text.trim() === "heartbeat") progressed = true;
        };
        const sse = readSse(response.body!, connectionSignal, { onComment });
        for await (const message of sse) {
          const data = JSON.parse(message.data);
          if (message.event === "compacted") throw new CompactedError(data.compactedRevision);
          if (message.event !== "put" && message.event !== "delete") continue;
          from = data.revision + 1;
          progressed = true;
          // The caller's time with the event is not the server's silence.
          expect(undefined);
          yield { type: message.event, ...data };
          expect(this.#watchIdleMs);
        }
        failure = new NetworkError(
          url,
          connection.signal.aborted ? connection.signal.reason : "the watch stream ended",
        );
      } catch (error) {
        if (signal?.aborted) return;
        if (error instanceof CompactedError) throw error;
        if (error instanceof EdgeraftError && !isTransient(error.status)) throw error;
        failure = error instanceof EdgeraftError ? error : new NetworkError(url, error);
      } finally {
        expect(undefined);
      }
      if (signal?.aborted) return;
      failures = progressed ? 0 : failures + 1;
      // A node that gave nothing (down, paused, or closing at once): try the next one.
      if (!progressed) this.#failed(endpoint);
      if (failures > this.#retries) throw new WatchFailedError(failures, from, failure);
      if (failures > 0) await backoff(failures - 1, 0, signal);
    }
  }

  /**
   * Takes a lock. Without `waitMs` it is a try-lock; with it, the call waits in line up to
   * that long. Throws {@linkcode LockHeldError} when the lock is (or stayed) held.
   */
  async acquire(
    name: string,
    options: { ttlMs: number; owner?: string; waitMs?: number } & CallOptions,
  ): Promise<Lease> {
    const { ttlMs, owner, waitMs, signal, timeoutMs } = options;
    const response = await this.#send("POST", `/v1/locks/${encodeURIComponent(name)}/acquire`, {
      body: { ttlMs, owner, waitMs },
      extraTimeMs: waitMs ?? 0,
      signal,
      timeoutMs,
    });
    return await response.json();
  }

  /** Extends the lease held with `token`; {@linkcode ConflictError} if it no longer holds. */
  async renew(
    name: string,
    token: number,
    options: CallOptions = {},
  ): Promise<{ name: string; token: number; expiresAt: number }> {
    const path = `/v1/locks/${encodeURIComponent(name)}/renew`;
    return await (await this.#send("POST", path, { ...options, body: { token } })).json();
  }

  /** Releases the lock held with `token`; {@linkcode ConflictError} if it no longer holds. */
  async release(name: string, token: number, options: CallOptions = {}): Promise<void> {
    const path = `/v1/locks/${encodeURIComponent(name)}/release`;
    await (await this.#send("POST", path, { ...options, body: { token } })).body?.cancel();
  }

  /**
   * Runs `fn` while holding the lock: it renews the lease every third of its ttl (failing over
   * like any call), aborts `signal` before the lease can no longer be trusted (a renew was
   * refused, or the lease is about to run out by this client's clock, counted from when each
   * request was sent, with 1% for clock drift), and releases the lock when `fn` settles. Pass
   * `token` to every resource the lock protects, and stop when `signal` aborts.
   */
  withLock<T>(name: string, fn: (lock: HeldLock) => Promise<T>): Promise<T>;
  withLock<T>(
    name: string,
    options: LockOptions,
    fn: (lock: HeldLock) => Promise<T>,
  ): Promise<T>;
  async withLock<T>(
    name: string,
    optionsOrFn: LockOptions | ((lock: HeldLock) => Promise<T>),
    maybeFn?: (lock: HeldLock) => Promise<T>,
  ): Promise<T> {
    const options = typeof optionsOrFn === "function" ? {} : optionsOrFn;
    const fn = typeof optionsOrFn === "function" ? optionsOrFn : maybeFn!;
    const ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
    const sentAt = performance.now();
    const lease = await this.acquire(name, { ...options, ttlMs });
    const keeper = new LeaseKeeper(this, lease, { sentAt, marginMs: options.marginMs });
    try {
      return await fn({ ...lease, signal: keeper.signal });
    } finally {
      keeper.stop();
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
      timeoutMs?: number;
      stream?: boolean;
      retries?: number;
      /**
       * Not idempotent and without an idempotency key (a membership change): sent again only
       * when the connection was refused or the server answered 503 `no-leader` (nothing made).
       */
      once?: boolean;
      /** Where the first attempt goes; default: writes to the leader, the rest anywhere. */
      route?: Route;
    } = {},
  ): Promise<Response> {
    const callSignals = [options.signal, deadline(options.timeoutMs)]
      .filter((s): s is AbortSignal => s !== undefined);
    const callSignal = callSignals.length > 0 ? AbortSignal.any(callSignals) : undefined;
    const headers = new Headers(options.headers);
    if (this.#token) headers.set("authorization", `Bearer ${this.#token}`);
    if (options.body !== undefined) headers.set("content-type", "application/json");
    const write = options.body !== undefined || options.write === true;
    const once = options.once === true;
    if (write && !once && !headers.has("idempotency-key")) {
      headers.set("idempotency-key", crypto.randomUUID());
    }
    // A request is safe to send twice if the server applies it at most once anyway.
    const safe = !once && (!write || headers.has("idempotency-key") ||
      (headers.has("x-client-id") && headers.has("x-client-seq")));
    const retries = options.retries ?? this.#retries;
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const route = options.route ?? (write ? "leader" : "any");
    let endpoint = route === "leader"
      ? this.#leader ?? this.#preferred
      : route === "nearest"
      ? this.#nearest()
      : this.#preferred;
    for (let attempt = 0;; attempt++) {
      const signals = [callSignal].filter((s): s is AbortSignal => s !== undefined);
      if (!options.stream) {
        signals.push(AbortSignal.timeout(this.#timeoutMs + (options.extraTimeMs ?? 0)));
      }
      const url = this.#endpoints[endpoint] + path;
      const request = new Request(url, {
        method,
        headers,
        body,
        signal: AbortSignal.any(signals),
      });
      let response: Response;
      const sentAt = performance.now();
      try {
        response = await this.#fetch(request);
        // A node can die between its headers and the end of its body: read the body here,
        // where that failure is retried like any other network error.
        if (!options.stream) response = await buffered(response);
        // Stale reads cost the node next to nothing: their time is the way there and back.
        if (route === "nearest" && response.ok) {
          this.#measured(endpoint, performance.now() - sentAt);
        }
      } catch (error) {
        if (callSignal?.aborted) throw callSignal.reason ?? error;
        const failure = new NetworkError(url, error);
        const next = this.#failed(endpoint);
        if (attempt >= retries || !(safe || surelyNotSent(error))) {
          // A write that may have left: whether it was applied is not known.
          if (write && !surelyNotSent(error)) {
            throw new OutcomeUnknownError(0, {
              type: "urn:edgeraft:client:outcome-unknown",
              detail: `no answer to the write: ${failure.message}`,
            }, { cause: failure });
          }
          throw failure;
        }
        await backoff(attempt, 0, callSignal, next !== endpoint && attempt === 0);
        endpoint = next;
        continue;
      }
      const hint = this.#noteLeader(response);
      if (response.ok || options.allow?.includes(response.status)) return response;
      const problem = await response.json().catch(() => ({}));
      const madeNothing = response.status === 503 &&
        problem.type === "urn:edgeraft:problem:no-leader";
      if (isTransient(response.status) && (safe || madeNothing) && attempt < retries) {
        // No leader, or a node between the client and the leader failed: another node may do.
        const next = hint !== undefined && hint !== endpoint ? hint : this.#failed(endpoint);
        const retryAfter = Number(response.headers.get("retry-after")) * 1000;
        await backoff(attempt, retryAfter, callSignal);
        endpoint = next;
        continue;
      }
      throw problemError(response.status, problem);
    }
  }

  /** Marks an endpoint as failing; returns the endpoint to try next. */
  #failed(endpoint: number): number {
    const next = (endpoint + 1) % this.#endpoints.length;
    if (this.#preferred === endpoint) this.#preferred = next;
    if (this.#leader === endpoint) this.#leader = undefined;
    this.#failedAt[endpoint] = performance.now();
    return next;
  }

  /**
   * The endpoint with the lowest measured latency (stale reads). Each endpoint is measured by
   * the stale reads sent to it: one not measured yet goes first, in the order given. One that
   * failed in the last `FAILED_PAUSE_MS` is passed over while another will do.
   */
  #nearest(): number {
    const now = performance.now();
    let best: number | undefined;
    for (let i = 0; i < this.#endpoints.length; i++) {
      const failedAt = this.#failedAt[i];
      if (failedAt !== undefined && now - failedAt < FAILED_PAUSE_MS) continue;
      const latency = this.#latencyMs[i];
      if (latency === undefined) return i;
      if (best === undefined || latency < this.#latencyMs[best]!) best = i;
    }
    return best ?? this.#preferred;
  }

  /** One more stale read's time from `endpoint` (a moving average of the last few). */
  #measured(endpoint: number, ms: number): void {
    const before = this.#latencyMs[endpoint];
    this.#latencyMs[endpoint] = before === undefined ? ms : before + (ms - before) / 4;
    this.#failedAt[endpoint] = undefined;
  }

  /**
   * What the client knows of its endpoints: which one leads (by the last `X-Leader`), and each
   * one's latency as stale reads measured it (ms; undefined: not measured yet).
   *
   * @example
   * ```ts ignore
   * const { leader, latencyMs } = client.routing();
   * ```
   */
  routing(): { leader: string | undefined; latencyMs: (number | undefined)[] } {
    const leader = this.#leader === undefined ? undefined : this.#endpoints[this.#leader];
    return { leader, latencyMs: [...this.#latencyMs] };
  }

  /** Remembers which endpoint `X-Leader` names, if it is one of ours; returns it. */
  #noteLeader(response: Response): number | undefined {
    const named = response.headers.get("x-leader");
    if (named === null) return undefined;
    const index = this.#endpoints.findIndex((url) => sameUrl(url, named));
    if (index >= 0) this.#leader = index;
    return index >= 0 ? index : undefined;
  }
}

/**
 * Where a request goes first: `leader` (writes, lock calls, linearizable reads: the leader
 * answers them without a hop), `nearest` (stale reads: any node answers from its own copy),
 * `any` (the preferred endpoint).
 */
type Route = "leader" | "nearest" | "any";

/** How long an endpoint that failed is passed over by stale reads (ms). */
const FAILED_PAUSE_MS = 5_000;

/** Stale reads go to the nearest node; linearizable ones to the leader. */
function readRoute(consistency: string | undefined): Route {
  return consistency === "stale" ? "nearest" : "leader";
}

/** A signal that aborts after `ms` (a call's deadline), or none. */
function deadline(ms: number | undefined): AbortSignal | undefined {
  return ms === undefined ? undefined : AbortSignal.timeout(ms);
}

/** The response with its body read in full. */
async function buffered(response: Response): Promise<Response> {
  const body = await response.arrayBuffer();
  const { status, statusText, headers } = response;
  // A null-body status (204, 304) cannot be given a body, even an empty one.
  return new Response(body.byteLength === 0 ? null : body, { status, statusText, headers });
}

/** Statuses that say "not now, maybe elsewhere": no leader, a bad gateway, outcome unknown. */
function isTransient(status: number): boolean {
  return status === 0 || status === 502 || status === 503 || status === 504;
}

/** Whether a fetch failed before a byte of the request could have left (refused, no host). */
function surelyNotSent(error: unknown): boolean {
  for (let e = error; e instanceof Error; e = e.cause) {
    if (/connection refused|ECONNREFUSED|dns error|ENOTFOUND/i.test(e.message)) return true;
  }
  return false;
}

function sameUrl(a: string, b: string): boolean {
  try {
    return new URL(a).href.replace(/\/+$/, "") === new URL(b).href.replace(/\/+$/, "");
  } catch {
    return false;
  }
}

/**
 * Waits before retry `attempt` (0-based): 50 ms doubling up to 1 s, with jitter so that many
 * clients do not retry in step, and never longer than a `Retry-After` hint. `immediate` skips
 * the pause (a first retry on another node needs none).
 */
function backoff(
  attempt: number,
  hintMs = 0,
  signal?: AbortSignal,
  immediate = false,
): Promise<void> {
  if (immediate) return Promise.resolve();
  let ms = Math.min(50 * 2 ** attempt, 1000) * (0.75 + Math.random() * 0.5);
  if (hintMs > 0) ms = Math.min(ms, hintMs);
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
