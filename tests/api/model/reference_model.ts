/**
 * The reference model of what docs/api.md promises, for one client of the model-based API test.
 *
 * Each client owns a namespace (keys `<ns>/...`, locks `<ns>-...`, idempotency keys and a session
 * `<ns>-...`) that no other client touches, so its requests and answers form a sequential history
 * that the model predicts exactly: values, `version`, `createRevision`, `prevRevision`, `ETag`,
 * 404/412/409 problems, lock holders and fencing tokens, replays and refusals of reused
 * idempotency keys and sessions. Revisions and fencing tokens are global (Raft indexes and the
 * store's revision), so the model checks how they relate (a new write's revision is above every
 * revision this client has seen; a lock's tokens strictly increase) rather than their values.
 *
 * Where the promise allows more than one answer (a lease near its end may or may not have
 * expired; a retried request after a dropped connection may be a replay or the first
 * application; another principal's idempotency key may be a fresh key or refused), the model
 * lists the alternatives, accepts the one the answer matches and goes on in that world.
 *
 * Keys and locks every client uses are checked by {@linkcode SharedLedger} with invariants that
 * hold under concurrency.
 *
 * @module
 */

import { isDeepStrictEqual } from "node:util";
import type { TokenName } from "./model_node.ts";
import {
  type Cond,
  type ExactlySpec,
  type Json,
  OWN_KEYS,
  OWN_LOCKS,
  type ReqSpec,
  type Step,
} from "./steps.ts";
import { type Answer, describeAnswer, describeRequest, type WireRequest } from "./wire.ts";

/**
 * The clock-drift bound of docs/api.md: a holder trusts `ttlMs * (1 - DRIFT)` from when it sent
 * the request, and a lease is surely over `ttlMs * (1 + DRIFT)` after the grant arrived.
 *
 * @example
 * ```ts
 * import { DRIFT } from "./reference_model.ts";
 * const trustFor = 10_000 * (1 - DRIFT); // 9900 ms of a 10 s lease
 * ```
 */
export const DRIFT = 0.01;
/** Client clock readings and the leader's stamps come from the same machine's clock; this is
 * for rounding and for the stamp being taken a moment after the request arrived. */
const STAMP_SLACK_MS = 30;
/**
 * A read does not move log time: it shows an expiry once the leader's next tick (proposed about
 * every 50 ms) is applied. Generous, so that a loaded machine (the whole suite on 2 cores) does
 * not fail the run; the writes' checks need no such slack.
 */
const READ_SLACK_MS = 10_000;

/**
 * What a request means to the model; attached to the request it was built with.
 *
 * @example
 * ```ts
 * import type { Sem } from "./reference_model.ts";
 * const s: Sem = { kind: "get", key: "m0~0/k1" };
 * ```
 */
export type Sem =
  | { kind: "put"; key: string; value: Json; ifMatch?: number; create?: boolean }
  | { kind: "delete"; key: string; ifMatch?: number }
  | { kind: "get"; key: string; ifNoneMatch?: string; stale?: boolean }
  | { kind: "list"; prefix: string; limit: number; after?: string }
  | { kind: "acquire"; lock: string; owner: string; ttlMs: number; waitMs: number }
  | { kind: "renew" | "release"; lock: string; token: number }
  | { kind: "lockInfo"; lock: string }
  | { kind: "refused"; statuses: number[]; why: string };

/**
 * A request with its meaning.
 *
 * @example
 * ```ts
 * import type { ModelRequest } from "./reference_model.ts";
 * const r: ModelRequest = {
 *   method: "GET", path: "/v1/config/a", headers: {}, token: "alpha", sem: { kind: "get", key: "a" },
 * };
 * ```
 */
export interface ModelRequest extends WireRequest {
  sem: Sem;
}

/**
 * One answer the promises allow: its status, whether it must (not) be marked as a replay, what
 * else it must satisfy, and how the model's state moves when it is the one given.
 *
 * @example
 * ```ts
 * import type { Alt } from "./reference_model.ts";
 * const notFound: Alt = { what: "404 not-found", status: [404], replayed: false };
 * ```
 */
export interface Alt {
  what: string;
  status: number[];
  /** `true`: must carry `Idempotent-Replayed: true`; `false`: must not; absent: either. */
  replayed?: boolean;
  check?: (a: Answer) => string | undefined;
  apply?: (a: Answer) => void;
  /** The answer came from the state machine: the exactly-once tables remember it. */
  logged?: boolean;
}

/**
 * A broken promise: which client and step, the request and answer, and what was allowed.
 *
 * @example
 * ```ts
 * import type { Discrepancy } from "./reference_model.ts";
 * const d: Discrepancy = {
 *   client: 0, step: 3, kind: "put: 200", request: "PUT ...", answer: "200 ...",
 *   expected: ["412 precondition-failed"],
 * };
 * ```
 */
export interface Discrepancy {
  client: number;
  step: number;
  /** What went wrong, without run-specific values: equal kinds are one finding. */
  kind: string;
  request: string;
  answer: string;
  expected: string[];
  /** The client's last requests and answers in this namespace, up to this one. */
  context?: TraceLine[];
}

/**
 * One request and its answer, as a report shows them.
 *
 * @example
 * ```ts
 * import type { TraceLine } from "./reference_model.ts";
 * const t: TraceLine = { step: 0, request: "GET /v1/config/a [alpha]", answer: "404 (1 ms)" };
 * ```
 */
export interface TraceLine {
  step: number;
  request: string;
  answer: string;
}

/**
 * How a client sends a request (the runner's `send`, bound to the node).
 *
 * @example
 * ```ts
 * import type { Sender } from "./reference_model.ts";
 * const never: Sender = () => Promise.resolve(undefined);
 * ```
 */
export type Sender = (req: WireRequest, signal?: AbortSignal) => Promise<Answer | undefined>;

interface KeyState {
  value: Json;
  revision: number;
  createRevision: number;
  version: number;
}

interface Lease {
  token: number;
  owner: string;
  ttlMs: number;
  expiresAt: number;
  /** An answer received before this (client clock) must find the lease held. */
  heldUntil: number;
  /** A write sent after this must find the lease over. */
  goneAfter: number;
}

interface Remembered {
  /** What makes a retry the same request: method, path and query, body, conditional headers. */
  full: string;
  status: number;
  body: unknown;
  /** `SharedLedger.keyUses` when the key was last used (for the 10,000-key bound). */
  usedAt: number;
  /** The token the first request was sent with (an open node has one owner for all). */
  by: TokenName;
}

/**
 * docs/api.md: the state machine remembers "at most 10,000" idempotency keys, least recently
 * used forgotten first ("after it, the key is new again"). A key is surely remembered while
 * fewer than 10,000 other keys were used since it was; the margin covers the order of the
 * clients' concurrent uses in the log, which the model does not see.
 */
const SURELY_REMEMBERED_USES = 9000;

interface SessionRecord extends Remembered {
  seq: number;
}

function problemType(body: unknown): string | undefined {
  return typeof body === "object" && body !== null
    ? (body as { type?: unknown }).type as string | undefined
    : undefined;
}

function expectProblem(kind: string): (a: Answer) => string | undefined {
  return (a) => {
    const type = problemType(a.body);
    return type === `urn:edgeraft:problem:${kind}` ? undefined : `problem type ${type}`;
  };
}

function fields(body: unknown, names: string[]): string | undefined {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return "not an object";
  const got = Object.keys(body).sort();
  const want = [...names].sort();
  return isDeepStrictEqual(got, want)
    ? undefined
    : `fields ${got.join(",")} (want ${want.join(",")})`;
}

function all(...checks: (string | undefined | false)[]): string | undefined {
  const failed = checks.filter((c): c is string => typeof c === "string");
  return failed.length > 0 ? failed.join("; ") : undefined;
}

function is(what: string, got: unknown, want: unknown): string | undefined {
  return isDeepStrictEqual(got, want)
    ? undefined
    : `${what} ${JSON.stringify(got)} (want ${JSON.stringify(want)})`;
}

/**
 * Compares strings by Unicode code point, the order docs/api.md promises for listings (UTF-16
 * order differs for characters beyond U+FFFF).
 *
 * @example
 * ```ts
 * import { compareCodePoints } from "./reference_model.ts";
 * compareCodePoints("\uFFFD", "\u{1F600}") < 0; // true
 * ```
 */
export function compareCodePoints(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i].codePointAt(0)! - y[i].codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/**
 * Percent-encodes a key for a `/v1/config/{key}` path, its `/` raw or as `%2F`.
 *
 * @example
 * ```ts
 * import { keyPath } from "./reference_model.ts";
 * keyPath("a b/c", false); // "/v1/config/a%20b/c"
 * ```
 */
export function keyPath(key: string, encodeSlash: boolean): string {
  return "/v1/config/" + key.split("/").map(encodeURIComponent).join(encodeSlash ? "%2F" : "/");
}

function lockPath(lock: string, action?: string): string {
  return `/v1/locks/${encodeURIComponent(lock)}${action ? `/${action}` : ""}`;
}

/**
 * What a request that a node with tokens refuses with 401 or 403 (a `PUT` of the client's `k0`,
 * an acquire of its `l0`) is on an open node: the same request as a step, sent with the same
 * token, which the open node ignores.
 */
function openCounterpart(
  built: Omit<WireRequest, "token">,
  token: TokenName,
  exactly: ExactlySpec | undefined,
): ReqSpec {
  const body = JSON.parse(built.body ?? "null");
  if (built.method === "PUT") return { op: "put", key: "k0", value: body, token, exactly };
  return { op: "acquire", lock: "l0", ttlMs: body.ttlMs, token, exactly };
}

/**
 * Requests the API must refuse with a 4xx before they change anything: `[statuses, why, build]`.
 * `build` gets the client's namespace, one of its keys and one of its locks.
 *
 * @example
 * ```ts
 * import { BAD_INPUTS } from "./reference_model.ts";
 * const [statuses, why, build] = BAD_INPUTS[0];
 * const req = build("m0~0", "m0~0/k0", "m0~0-l0"); // statuses [400], why "malformed JSON"
 * ```
 */
export const BAD_INPUTS: readonly [
  number[],
  string,
  (ns: string, key: string, lock: string) => Omit<WireRequest, "token"> & { token?: TokenName },
][] = [
  [[400], "malformed JSON", (_, key) => ({
    method: "PUT",
    path: keyPath(key, false),
    headers: {},
    body: '{"a":',
  })],
  [[415], "a body that is not JSON", (_, key) => ({
    method: "PUT",
    path: keyPath(key, false),
    headers: { "content-type": "text/plain" },
    body: "1",
  })],
  [[400], "If-Match: *", (_, key) => ({
    method: "PUT",
    path: keyPath(key, false),
    headers: { "if-match": "*" },
    body: "1",
  })],
  [[400], "a weak If-Match", (_, key) => ({
    method: "PUT",
    path: keyPath(key, false),
    headers: { "if-match": 'W/"1"' },
    body: "1",
  })],
  [[400], "If-Match with If-None-Match", (_, key) => ({
    method: "PUT",
    path: keyPath(key, false),
    headers: { "if-match": '"1"', "if-none-match": "*" },
    body: "1",
  })],
  [[400], "ttlMs below minTtlMs", (_, __, lock) => ({
    method: "POST",
    path: lockPath(lock, "acquire"),
    headers: {},
    body: '{"ttlMs":5}',
  })],
  [[400], "an unknown field in an acquire", (_, __, lock) => ({
    method: "POST",
    path: lockPath(lock, "acquire"),
    headers: {},
    body: '{"ttlMs":5000,"colour":"red"}',
  })],
  [[400], "a token that is not a number", (_, __, lock) => ({
    method: "POST",
    path: lockPath(lock, "renew"),
    headers: {},
    body: '{"token":"x"}',
  })],
  [[400], "a `..` key segment (issue 10, item 10)", (ns) => ({
    method: "PUT",
    path: `/v1/config/${encodeURIComponent(`${ns}/../k0`)}`,
    headers: {},
    body: "1",
  })],
  [[400], "a `.` key segment (issue 10, item 10)", (ns) => ({
    method: "PUT",
    path: `/v1/config/${encodeURIComponent(`${ns}/./k0`)}`,
    headers: {},
    body: "1",
  })],
  [[400], "a trailing `..` key segment (issue 10, item 10)", (ns) => ({
    method: "DELETE",
    path: `/v1/config/${encodeURIComponent(`${ns}/k0/..`)}`,
    headers: {},
  })],
  [[400], "X-Client-Id without X-Client-Seq", (ns, key) => ({
    method: "PUT",
    path: keyPath(key, false),
    headers: { "x-client-id": `${ns}-s` },
    body: "1",
  })],
  [[400], "an empty Idempotency-Key", (_, key) => ({
    method: "PUT",
    path: keyPath(key, false),
    headers: { "idempotency-key": "" },
    body: "1",
  })],
  [[400], "a __proto__ key in a value", (_, key) => ({
    method: "PUT",
    path: keyPath(key, false),
    headers: {},
    body: '{"__proto__":1}',
  })],
  [[401], "no bearer token", (_, key) => ({
    method: "PUT",
    path: keyPath(key, false),
    headers: {},
    body: "1",
    token: "none",
  })],
  [[403], "a token limited to other keys", (_, key) => ({
    method: "PUT",
    path: keyPath(key, false),
    headers: {},
    body: "1",
    token: "narrow",
  })],
  [[403], "a token limited to other locks", (_, __, lock) => ({
    method: "POST",
    path: lockPath(lock, "acquire"),
    headers: {},
    body: '{"ttlMs":5000}',
    token: "narrow",
  })],
  [[405], "PATCH on a key", (_, key) => ({
    method: "PATCH",
    path: keyPath(key, false),
    headers: {},
    body: "1",
  })],
  [[400], "a value nested 70 deep", (_, key) => ({
    method: "PUT",
    path: keyPath(key, false),
    headers: {},
    body: "[".repeat(70) + "]".repeat(70),
  })],
  [[400], "If-Match: * on a delete", (_, key) => ({
    method: "DELETE",
    path: keyPath(key, false),
    headers: { "if-match": "*" },
  })],
  [[400], "a negative X-Client-Seq", (ns, key) => ({
    method: "PUT",
    path: keyPath(key, false),
    headers: { "x-client-id": `${ns}-s`, "x-client-seq": "-1" },
    body: "1",
  })],
  [[400], "a `..` lock name segment (issue 10, item 10)", (_, __, lock) => ({
    method: "POST",
    path: lockPath(`${lock}/..`, "acquire"),
    headers: {},
    body: '{"ttlMs":5000}',
  })],
  [[400], "limit=0 on a listing", (ns) => ({
    method: "GET",
    path: `/v1/config?${new URLSearchParams({ prefix: `${ns}/`, limit: "0" })}`,
    headers: {},
  })],
  [[400], "a listing limit above maxListLimit", (ns) => ({
    method: "GET",
    path: `/v1/config?${new URLSearchParams({ prefix: `${ns}/`, limit: "1001" })}`,
    headers: {},
  })],
  [[415], "Content-Encoding: gzip on a plain body (issue 10, item 7)", (_, key) => ({
    method: "PUT",
    path: keyPath(key, false),
    headers: { "content-encoding": "gzip" },
    body: "1",
  })],
  [[431], "150 header lines (issue 10, item 7)", (_, key) => ({
    method: "PUT",
    path: keyPath(key, false),
    headers: Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`x-filler-${i}`, "1"])),
    body: "1",
  })],
  [[401], "a bearer token that is not in the tokens file", (_, key) => ({
    method: "PUT",
    path: keyPath(key, false),
    headers: {},
    body: "1",
    token: "unknown",
  })],
  [[401], "an Authorization header that is no bearer token", (_, __, lock) => ({
    method: "POST",
    path: lockPath(lock, "acquire"),
    headers: { authorization: "Basic bW9kZWw6eA==" },
    body: '{"ttlMs":5000}',
    token: "none",
  })],
];

/**
 * The model of one client's namespace, and the client itself: it builds each step's requests,
 * sends them, and compares every answer with what the promises allow.
 *
 * @example
 * ```ts ignore
 * import { ClientModel, SharedLedger } from "./reference_model.ts";
 * const model = new ClientModel(0, "m0~0", new SharedLedger(), sender);
 * const found = await model.perform({ t: "one", req: { op: "get", key: "k0" } }, 0);
 * ```
 */
export class ClientModel {
  readonly trace: TraceLine[] = [];
  #keys = new Map<string, KeyState>();
  #leases = new Map<string, Lease>();
  #tokens = new Map<string, number[]>();
  #idem = new Map<string, Remembered>();
  #sessions = new Map<string, SessionRecord>();
  #maxRevision = 0;
  /** The request each step sent first, by step index, for `replay` steps. */
  #sent = new Map<number, ModelRequest>();
  #found: Discrepancy[] = [];
  #step = 0;
  /** The step kind a discrepancy is reported under, when it is a scenario. */
  #scenario = "";
  /** Shared keys: the highest revision this client has seen of each. */
  #sharedSeen = new Map<string, number>();
  /** Shared locks: this client's lease, and the highest token it has seen of each. */
  #sharedLeases = new Map<string, Lease & { grant: GrantRecord }>();
  #sharedTokens = new Map<string, number>();
  #writeCounter = 0;

  constructor(
    readonly client: number,
    readonly ns: string,
    readonly ledger: SharedLedger,
    readonly sender: Sender,
    /** Where retries of dropped requests go (another node of a cluster); default `sender`. */
    readonly retrySender: Sender = sender,
    /**
     * Send a request again after a 503 `no-leader` (a cluster between leaders): by the API's
     * word nothing was applied, so the same alternatives judge the next answer. Off for one
     * node, which is always its own leader: there a 503 is a discrepancy.
     */
    readonly retryNoLeader = false,
    /**
     * The node has no tokens (docs/api.md, Authentication: "Without configured tokens the API
     * is open"): nothing is refused with 401 or 403, and "the open API is one owner" of every
     * idempotency key and session, whatever bearer token a request carries (or none).
     */
    readonly open = false,
  ) {}

  /** Whose keys and sessions a request with `token` uses. */
  #owner(token: TokenName): string {
    return this.open ? "open" : token;
  }

  /**
   * When a lease is surely over, for a lease whose latest grant or renew arrived so that this is
   * `ttlMs * (1 + DRIFT)` after it. Not in a cluster: a leader change lengthens leases by the
   * time no leader stamped anything, which the client cannot see, so only the lower bound holds.
   */
  #goneAfter(bound: number): number {
    return this.retryNoLeader ? Infinity : bound;
  }

  /** The full name of a local key. */
  key(local: string): string {
    return `${this.ns}/${local}`;
  }

  /** The full name of a local lock. */
  lock(local: string): string {
    return `${this.ns}-${local}`;
  }

  /** Whether the model holds `local`'s lease (in any state). */
  hasLease(local: string): boolean {
    return this.#leases.has(this.lock(local));
  }

  /** Whether the lock is surely free for a request sent now. */
  surelyFree(local: string): boolean {
    const lease = this.#leases.get(this.lock(local));
    return lease === undefined || Date.now() > lease.goneAfter;
  }

  /** Whether the key holds a value in the model. */
  hasKey(local: string): boolean {
    return this.#keys.has(this.key(local));
  }

  /** The session's last sequence number, if it has one. */
  get sessionSeq(): number | undefined {
    return this.#sessions.get(`${this.#owner("alpha")}\0${this.ns}-s`)?.seq;
  }

  /** Whether this client holds shared lock `l` in the model. */
  holdsShared(l: number): boolean {
    return this.#sharedLeases.has(`shared-l${l}`);
  }

  /** Whether step `index` sent a request that can be replayed. */
  sentExactlyOnce(index: number): boolean {
    const req = this.#sent.get(index);
    return req !== undefined && req.sem.kind !== "refused" &&
      (req.headers["idempotency-key"] !== undefined || req.headers["x-client-id"] !== undefined);
  }

  /** Runs one step; returns the discrepancies it found (empty: all answers as promised). */
  async perform(step: Step, index: number): Promise<Discrepancy[]> {
    this.#found = [];
    this.#step = index;
    this.#scenario = step.t === "one" ? "" : `${step.t}: `;
    switch (step.t) {
      case "one": {
        const req = this.build(step.req, index);
        if (req !== undefined) await this.#exchange(req);
        break;
      }
      case "dropRetry":
        await this.#dropRetry(step.req, step.abortAfterMs, index);
        break;
      case "waitExpire":
        await this.#waitExpire(step.lock);
        break;
      case "waitTimeout":
        await this.#waitTimeout(step.lock);
        break;
      case "abandonWait":
        await this.#abandonWait(step.lock, step.abortAfterMs, index);
        break;
      case "sharedPut":
        await this.#sharedPut(step.k, step.cas);
        break;
      case "sharedGet":
        await this.#sharedGet(step.k);
        break;
      case "sharedAcquire":
        await this.#sharedAcquire(step.l);
        break;
      case "sharedRenew":
      case "sharedRelease":
        await this.#sharedRenewRelease(step.l, step.t === "sharedRenew" ? "renew" : "release");
        break;
    }
    return this.#found;
  }

  /** Reads back every own key and lock: the state at the end must be the model's. */
  async verifyAll(): Promise<Discrepancy[]> {
    this.#found = [];
    this.#step = -1;
    this.#scenario = "end of run: ";
    for (const local of OWN_KEYS) {
      const req = this.build({ op: "get", key: local }, -1);
      if (req) await this.#exchange(req);
    }
    for (const local of OWN_LOCKS) {
      const req = this.build({ op: "lockInfo", lock: local }, -1);
      if (req) await this.#exchange(req);
    }
    const list = this.build({ op: "list", limit: 1000 }, -1);
    if (list) await this.#exchange(list);
    return this.#found;
  }

  // ---------------------------------------------------------------------------------------
  // Building requests

  /** Builds the request of a spec; `undefined` when a replay's original is gone. */
  build(spec: ReqSpec, index: number): ModelRequest | undefined {
    const req = this.#build(spec);
    if (req !== undefined && index >= 0 && !this.#sent.has(index)) this.#sent.set(index, req);
    return req;
  }

  #build(spec: ReqSpec): ModelRequest | undefined {
    const token: TokenName = ("token" in spec && spec.token) || "alpha";
    switch (spec.op) {
      case "put": {
        const key = this.key(spec.key);
        const sem: Sem = { kind: "put", key, value: spec.value };
        const headers = this.#condHeaders(key, spec.cond, sem);
        Object.assign(headers, this.#exactlyHeaders(spec.exactly, token));
        return {
          method: "PUT",
          path: keyPath(key, spec.encodeSlash ?? false),
          headers,
          body: JSON.stringify(spec.value),
          token,
          sem,
        };
      }
      case "delete": {
        const key = this.key(spec.key);
        const sem: Sem = { kind: "delete", key };
        const headers = this.#condHeaders(key, spec.cond, sem);
        Object.assign(headers, this.#exactlyHeaders(spec.exactly, token));
        return { method: "DELETE", path: keyPath(key, false), headers, token, sem };
      }
      case "get": {
        const key = this.key(spec.key);
        const headers: Record<string, string> = {};
        const sem: Sem = { kind: "get", key, stale: spec.stale ?? false };
        if (spec.ifNoneMatch) {
          sem.ifNoneMatch = `"${this.#keys.get(key)?.revision ?? 1}"`;
          headers["if-none-match"] = sem.ifNoneMatch;
        }
        const query = spec.stale ? "?consistency=stale" : "";
        const path = keyPath(key, spec.encodeSlash ?? true) + query;
        return { method: "GET", path, headers, token, sem };
      }
      case "list": {
        const prefix = `${this.ns}/`;
        const after = spec.after === undefined ? undefined : this.key(spec.after);
        const query = new URLSearchParams({ prefix, limit: String(spec.limit) });
        if (after !== undefined) query.set("after", after);
        return {
          method: "GET",
          path: `/v1/config?${query}`,
          headers: {},
          token,
          sem: { kind: "list", prefix, limit: spec.limit, after },
        };
      }
      case "acquire": {
        const lock = this.lock(spec.lock);
        const body: Record<string, Json> = { ttlMs: spec.ttlMs };
        if (spec.owner !== undefined) body.owner = spec.owner;
        if (spec.waitMs !== undefined) body.waitMs = spec.waitMs;
        return {
          method: "POST",
          path: lockPath(lock, "acquire"),
          headers: this.#exactlyHeaders(spec.exactly, token),
          body: JSON.stringify(body),
          token,
          sem: {
            kind: "acquire",
            lock,
            owner: spec.owner ?? "",
            ttlMs: spec.ttlMs,
            waitMs: spec.waitMs ?? 0,
          },
        };
      }
      case "renew":
      case "release": {
        const lock = this.lock(spec.lock);
        const held = this.#leases.get(lock)?.token;
        const seen = this.#tokens.get(lock) ?? [];
        const older = seen.filter((t) => t !== held);
        const tokenValue = spec.which === "held" ? held ?? seen.at(-1) ?? 1 : older.at(-1) ?? 1;
        return {
          method: "POST",
          path: lockPath(lock, spec.op),
          headers: this.#exactlyHeaders(spec.exactly, token),
          body: JSON.stringify({ token: tokenValue }),
          token,
          sem: { kind: spec.op, lock, token: tokenValue },
        };
      }
      case "lockInfo": {
        const lock = this.lock(spec.lock);
        return {
          method: "GET",
          path: lockPath(lock),
          headers: {},
          token,
          sem: { kind: "lockInfo", lock },
        };
      }
      case "replay": {
        const original = this.#sent.get(spec.of);
        if (original === undefined) return undefined;
        return { ...original, token: spec.token ?? original.token };
      }
      case "bad": {
        const [statuses, why, make] = BAD_INPUTS[spec.variant % BAD_INPUTS.length];
        const built = make(this.ns, this.key("k0"), this.lock("l0"));
        const headers = { ...built.headers };
        const tokenName = built.token ?? "alpha";
        if (this.open && statuses.every((s) => s === 401 || s === 403)) {
          // An open node refuses no token: the same bytes are an ordinary write or acquire.
          const req = this.#build(openCounterpart(built, tokenName, spec.exactly))!;
          Object.assign(req.headers, built.headers);
          return req;
        }
        // Variants whose mistake is in the exactly-once headers keep them as they are.
        const ownHeaders = "idempotency-key" in headers || "x-client-id" in headers;
        if (spec.exactly && !ownHeaders) {
          Object.assign(headers, this.#exactlyHeaders(spec.exactly, tokenName));
        }
        return { ...built, headers, token: tokenName, sem: { kind: "refused", statuses, why } };
      }
    }
  }

  #condHeaders(
    key: string,
    cond: Cond | undefined,
    sem: { ifMatch?: number; create?: boolean },
  ): Record<string, string> {
    const current = this.#keys.get(key)?.revision ?? 0;
    switch (cond) {
      case undefined:
        return {};
      case "current":
        sem.ifMatch = current;
        break;
      case "stale":
        // A revision the key does not have: an older one, or one it never had.
        sem.ifMatch = current > 1 ? current - 1 : this.#maxRevision + 7;
        break;
      case "absent":
        sem.ifMatch = 0;
        break;
      case "create":
        sem.create = true;
        return { "if-none-match": "*" };
    }
    return { "if-match": `"${sem.ifMatch}"` };
  }

  #exactlyHeaders(exactly: ExactlySpec | undefined, token: TokenName): Record<string, string> {
    if (exactly === undefined) return {};
    if ("idem" in exactly) return { "idempotency-key": `${this.ns}-${exactly.idem}` };
    const id = `${this.ns}-s`;
    const last = this.#sessions.get(`${this.#owner(token)}\0${id}`)?.seq ?? 0;
    const seq = exactly.seq === "next"
      ? last + 1
      : exactly.seq === "same"
      ? Math.max(last, 1)
      : Math.max(last - 1, 0);
    return { "x-client-id": id, "x-client-seq": String(seq) };
  }

  // ---------------------------------------------------------------------------------------
  // Sending and judging

  /** Sends `req`, judges the answer against `alts` (default: what the model allows). */
  async #exchange(
    req: ModelRequest,
    options: {
      alts?: Alt[];
      signal?: AbortSignal;
      dropped?: boolean;
      firstSentAt?: number;
      retry?: boolean;
    } = {},
  ): Promise<Answer | undefined> {
    const alts = options.alts ?? this.alternatives(req, options.dropped ?? false);
    let answer: Answer | undefined;
    try {
      const to = options.retry ? this.retrySender : this.sender;
      answer = await to(req, options.signal);
      for (let attempt = 0; this.retryNoLeader && attempt < 50; attempt++) {
        if (
          answer?.status !== 503 || problemType(answer.body) !== "urn:edgeraft:problem:no-leader"
        ) {
          break;
        }
        this.ledger.coverage.set(
          "503 no-leader, sent again",
          (this.ledger.coverage.get("503 no-leader, sent again") ?? 0) + 1,
        );
        await new Promise((resolve) => setTimeout(resolve, 100));
        answer = await to(req, options.signal);
      }
    } catch (error) {
      this.#report(req, undefined, `the request failed: ${error}`, alts);
      return undefined;
    }
    this.trace.push({
      step: this.#step,
      request: describeRequest(req),
      answer: describeAnswer(answer),
    });
    if (answer === undefined) return undefined;
    if (options.firstSentAt !== undefined && answer.headers["idempotent-replayed"] === "true") {
      // The retry of a dropped request was answered from the first attempt's application,
      // which may have happened as soon as the first attempt was sent.
      answer.sentAt = options.firstSentAt;
    }
    this.judge(req, answer, alts);
    return answer;
  }

  /** Compares an answer with the alternatives; applies the matching one or reports. */
  judge(req: ModelRequest, a: Answer, alts: Alt[]): boolean {
    const general = generalProblems(a);
    if (general !== undefined) {
      this.#report(req, a, general, alts);
      return false;
    }
    const replayed = a.headers["idempotent-replayed"] === "true";
    const why: string[] = [];
    for (const alt of alts) {
      if (!alt.status.includes(a.status)) {
        why.push(`${alt.what}: status ${a.status}`);
        continue;
      }
      if (alt.replayed !== undefined && alt.replayed !== replayed) {
        why.push(`${alt.what}: ${replayed ? "marked" : "not marked"} Idempotent-Replayed`);
        continue;
      }
      const problem = alt.check?.(a);
      if (problem !== undefined) {
        why.push(`${alt.what}: ${problem}`);
        continue;
      }
      alt.apply?.(a);
      const seen = `${req.sem.kind}: ${alt.what}${replayed ? " (replayed)" : ""}`
        .replace(/(token|revision|currentRevision|with|first answer \() \d+/gi, "$1 N");
      this.ledger.coverage.set(seen, (this.ledger.coverage.get(seen) ?? 0) + 1);
      return true;
    }
    this.#report(req, a, why.join(" | "), alts);
    return false;
  }

  #report(req: ModelRequest, a: Answer | undefined, why: string, alts: Alt[]): void {
    const statusText = a === undefined ? "no answer" : String(a.status);
    const replay = a?.headers["idempotent-replayed"] === "true" ? " (replayed)" : "";
    const header = req.headers["idempotency-key"] !== undefined
      ? " with Idempotency-Key"
      : req.headers["x-client-id"] !== undefined
      ? " with a session"
      : "";
    this.#found.push({
      client: this.client,
      step: this.#step,
      // Without run-specific numbers (tokens, revisions), so that equal findings are one kind.
      kind: `${this.#scenario}${req.sem.kind}${header}: expected ${
        alts.map((x) => x.what).join(" or ")
      }; `
        .replace(/(token|revision|currentRevision|with|first answer \() \d+/gi, "$1 N") +
        `got ${statusText}${replay}`,
      context: this.trace.slice(-12),
      request: describeRequest(req),
      answer: a === undefined ? why : `${describeAnswer(a)}: ${why}`,
      expected: alts.map((x) =>
        x.what
      ),
    });
  }

  /** What the promises allow as the answer to `req` in the model's current state. */
  alternatives(req: ModelRequest, dropped: boolean): Alt[] {
    const { sem } = req;
    if (sem.kind === "refused") return this.#refusal(req, sem);
    const fresh = this.#fresh(sem);
    const idem = req.headers["idempotency-key"];
    const clientId = req.headers["x-client-id"];
    const full = [
      req.method,
      req.path,
      req.body ?? "",
      req.headers["if-match"] ?? "",
      req.headers["if-none-match"] ?? "",
    ].join("\n");
    if (idem === undefined && clientId === undefined) {
      return fresh.map((alt) => ({ ...alt, replayed: false }));
    }
    const owner = this.#owner(req.token);
    const remembered = idem !== undefined
      ? this.#idem.get(`${owner}\0${idem}`)
      : this.#sessions.get(`${owner}\0${clientId}`);
    const seq = Number(req.headers["x-client-seq"]);
    // Counted per request sent, not per key: more than the distinct keys used, so never late.
    if (idem !== undefined) this.ledger.keyUses++;
    const usedAt = this.ledger.keyUses;
    const remember = (a: Answer) => {
      const record = { full, status: a.status, body: a.body, usedAt, by: req.token };
      if (idem !== undefined) this.#idem.set(`${owner}\0${idem}`, record);
      else this.#sessions.set(`${owner}\0${clientId}`, { ...record, seq });
    };
    if (idem === undefined && remembered !== undefined) {
      const last = (remembered as SessionRecord).seq;
      if (seq < last) {
        return [{
          what: "409 stale-sequence",
          status: [409],
          replayed: false,
          check: (a) =>
            all(
              expectProblem("stale-sequence")(a),
              is("lastSeq", (a.body as { lastSeq?: unknown }).lastSeq, last),
            ),
        }];
      }
    }
    const sameSlot = remembered !== undefined &&
      (idem !== undefined || (remembered as SessionRecord).seq === seq);
    if (sameSlot) {
      // Only on an open node can a request with another token be answered from this record.
      const by = remembered.by === req.token ? "" : " sent with another token";
      const replay: Alt = {
        what: `a replay of the first answer (${remembered.status})${by}`,
        status: [remembered.status],
        replayed: true,
        check: (a) => is("the replayed body", a.body, remembered.body),
        apply: () => remembered.usedAt = usedAt,
      };
      // "A retry is the same request: same method, path and query, If-Match, If-None-Match and
      // body bytes" (docs/api.md); anything else under the same key is refused, not replayed.
      const known = remembered.full === full ? replay : this.#reuseRefusal(idem !== undefined);
      if (idem === undefined || usedAt - remembered.usedAt < SURELY_REMEMBERED_USES) {
        return [known];
      }
      // Maybe forgotten among the 10,000 keys: then the request is new, and only new.
      return [known, ...this.#freshAlts(fresh, dropped, remember, " (the key may be forgotten)")];
    }
    // Not the owner's own session (a new sequence number in it is no other token's use).
    const elsewhere = idem !== undefined
      ? [...this.#idem.keys()].some((k) => k.endsWith(`\0${idem}`))
      : [...this.#sessions.keys()].some((k) =>
        k.endsWith(`\0${clientId}`) && k !== `${owner}\0${clientId}`
      );
    // Another token's use of the same key or session is unknown to this one ("Keys and sessions
    // belong to the bearer token"): the fresh answers are the only ones allowed.
    return this.#freshAlts(
      fresh,
      dropped,
      remember,
      elsewhere ? " (its key is another token's too)" : "",
    );
  }

  /** The answers to a request applied as a new one, remembered under its key or session. */
  #freshAlts(fresh: Alt[], dropped: boolean, remember: (a: Answer) => void, note: string): Alt[] {
    return fresh.map((alt) => ({
      ...alt,
      what: `${alt.what}${note}`,
      replayed: dropped ? undefined : false,
      apply: (a: Answer) => {
        alt.apply?.(a);
        if (alt.logged) remember(a);
      },
    }));
  }

  #reuseRefusal(idempotencyKey: boolean): Alt {
    const kind = idempotencyKey ? "idempotency-key-reused" : "client-seq-reused";
    const what = idempotencyKey ? "the Idempotency-Key" : "the session's X-Client-Seq";
    return {
      what: `422 ${kind} refusing ${what} reused for a different request`,
      status: [422],
      replayed: false,
      check: expectProblem(kind),
    };
  }

  #refusal(req: ModelRequest, sem: { statuses: number[]; why: string }): Alt[] {
    const idem = req.headers["idempotency-key"];
    const reused = idem !== undefined && idem !== "" &&
      [...this.#idem.keys()].some((k) => k.endsWith(`\0${idem}`));
    // Whether a malformed request is checked before its reused key is not promised.
    const statuses = reused ? [...sem.statuses, 422] : sem.statuses;
    return [{
      what: `${sem.statuses.join("/")} refusing ${sem.why}`,
      status: statuses,
      replayed: false,
      check: (a) => {
        if (a.status === 401 && a.headers["www-authenticate"] === undefined) {
          return "a 401 without WWW-Authenticate";
        }
        if (a.status === 405 && a.headers["allow"] === undefined) return "a 405 without Allow";
        return undefined;
      },
    }];
  }

  #fresh(sem: Exclude<Sem, { kind: "refused" }>): Alt[] {
    switch (sem.kind) {
      case "put":
        return this.#putAlts(sem);
      case "delete":
        return this.#deleteAlts(sem);
      case "get":
        return this.#getAlts(sem);
      case "list":
        return this.#listAlts(sem);
      case "acquire":
        return this.#acquireAlts(sem);
      case "renew":
      case "release":
        return this.#renewReleaseAlts(sem);
      case "lockInfo":
        return this.#lockInfoAlts(sem.lock);
    }
  }

  #revisionSeen(a: Answer): string | undefined {
    const header = a.headers["x-revision"];
    if (header === undefined) return "no X-Revision";
    const revision = Number(header);
    if (revision < this.#maxRevision) {
      return `X-Revision ${revision} is below ${this.#maxRevision}, which this client saw before`;
    }
    return undefined;
  }

  #precondition(current: number): Alt {
    return {
      what: `412 precondition-failed (currentRevision ${current})`,
      status: [412],
      logged: true,
      check: (a) =>
        all(
          expectProblem("precondition-failed")(a),
          is("currentRevision", (a.body as { currentRevision?: unknown }).currentRevision, current),
        ),
    };
  }

  #putAlts(sem: Extract<Sem, { kind: "put" }>): Alt[] {
    const cur = this.#keys.get(sem.key);
    const currentRevision = cur?.revision ?? 0;
    if (sem.ifMatch !== undefined && sem.ifMatch !== currentRevision) {
      return [this.#precondition(currentRevision)];
    }
    if (sem.create && cur !== undefined) return [this.#precondition(cur.revision)];
    const floor = this.#maxRevision;
    return [{
      what: "200 written",
      status: [200],
      logged: true,
      check: (a) => {
        const b = a.body as Record<string, number>;
        const replayed = a.headers["idempotent-replayed"] === "true";
        return all(
          fields(a.body, ["key", "revision", "createRevision", "version", "prevRevision"]),
          is("key", b.key, sem.key),
          !(b.revision > floor) && `revision ${b.revision} is not above ${floor}, already seen`,
          is("createRevision", b.createRevision, cur?.createRevision ?? b.revision),
          is("version", b.version, (cur?.version ?? 0) + 1),
          is("prevRevision", b.prevRevision, currentRevision),
          is("ETag", a.headers.etag, `"${b.revision}"`),
          !replayed && is("X-Revision", a.headers["x-revision"], String(b.revision)),
        );
      },
      apply: (a) => {
        const b = a.body as Record<string, number>;
        this.#keys.set(sem.key, {
          value: sem.value,
          revision: b.revision,
          createRevision: b.createRevision,
          version: b.version,
        });
        this.#maxRevision = Math.max(this.#maxRevision, b.revision);
        this.ledger.acknowledged(b.revision, `client ${this.client}: PUT ${sem.key}`, this);
      },
    }];
  }

  #deleteAlts(sem: Extract<Sem, { kind: "delete" }>): Alt[] {
    const cur = this.#keys.get(sem.key);
    if (cur === undefined) {
      return [{
        what: "404 not-found",
        status: [404],
        logged: true,
        check: expectProblem("not-found"),
      }];
    }
    if (sem.ifMatch !== undefined && sem.ifMatch !== cur.revision) {
      return [this.#precondition(cur.revision)];
    }
    const floor = this.#maxRevision;
    return [{
      what: "200 deleted",
      status: [200],
      logged: true,
      check: (a) => {
        const b = a.body as Record<string, number>;
        return all(
          fields(a.body, ["key", "revision", "prevRevision"]),
          is("key", b.key, sem.key),
          !(b.revision > floor) && `revision ${b.revision} is not above ${floor}, already seen`,
          is("prevRevision", b.prevRevision, cur.revision),
        );
      },
      apply: (a) => {
        const b = a.body as Record<string, number>;
        this.#keys.delete(sem.key);
        this.#maxRevision = Math.max(this.#maxRevision, b.revision);
        this.ledger.acknowledged(b.revision, `client ${this.client}: DELETE ${sem.key}`, this);
      },
    }];
  }

  #getAlts(sem: Extract<Sem, { kind: "get" }>): Alt[] {
    const cur = this.#keys.get(sem.key);
    const seen = (a: Answer) => {
      this.#maxRevision = Math.max(this.#maxRevision, Number(a.headers["x-revision"] ?? 0));
    };
    if (cur === undefined) {
      return [{
        what: "404 not-found",
        status: [404],
        check: (a) => all(expectProblem("not-found")(a), this.#revisionSeen(a)),
        apply: seen,
      }];
    }
    const etag = `"${cur.revision}"`;
    if (sem.ifNoneMatch === etag) {
      return [{
        what: "304 not modified",
        status: [304],
        check: (a) =>
          all(
            is("ETag", a.headers.etag, etag),
            a.text !== "" && "a body on a 304",
            this.#readHeaders(a, sem.stale ?? false),
          ),
      }];
    }
    return [{
      what: `200 with revision ${cur.revision}`,
      status: [200],
      check: (a) =>
        all(
          is("the key", a.body, { key: sem.key, value: cur.value, ...meta(cur) }),
          is("ETag", a.headers.etag, etag),
          this.#revisionSeen(a),
          this.#readHeaders(a, sem.stale ?? false),
        ),
      apply: seen,
    }];
  }

  /**
   * docs/api.md, "Consistency and caching": a linearizable read is `no-cache`; a stale one
   * `max-age=1, stale-while-revalidate=5`, `public` only when the API is open, with
   * `X-Last-Contact-Ms` (0 on the leader, which a one-node cluster's only node is; clusters
   * send no stale reads).
   */
  #readHeaders(a: Answer, stale: boolean): string | undefined {
    if (!stale) return is("Cache-Control", a.headers["cache-control"], "no-cache");
    return all(
      is(
        "Cache-Control",
        a.headers["cache-control"],
        `${this.open ? "public, " : ""}max-age=1, stale-while-revalidate=5`,
      ),
      is("X-Last-Contact-Ms", a.headers["x-last-contact-ms"], "0"),
    );
  }

  #listAlts(sem: Extract<Sem, { kind: "list" }>): Alt[] {
    const keys = [...this.#keys.keys()]
      .filter((k) => k.startsWith(sem.prefix))
      .filter((k) => sem.after === undefined || compareCodePoints(k, sem.after) > 0)
      .sort(compareCodePoints);
    const page = keys.slice(0, sem.limit);
    const items = page.map((key) => ({
      key,
      value: this.#keys.get(key)!.value,
      ...meta(this.#keys.get(key)!),
    }));
    const next = keys.length > sem.limit ? page.at(-1)! : null;
    return [{
      what: `200 with ${items.length} items`,
      status: [200],
      check: (a) => {
        const b = a.body as { items?: unknown; next?: unknown; revision?: number };
        return all(
          fields(a.body, ["items", "revision", "next"]),
          is("items", b.items, items),
          is("next", b.next, next),
          is("ETag", a.headers.etag, `"${b.revision}"`),
          this.#readHeaders(a, false),
          (b.revision ?? 0) < this.#maxRevision &&
            `revision ${b.revision} is below ${this.#maxRevision}, already seen`,
        );
      },
      apply: (a) => {
        const b = a.body as { revision: number };
        this.#maxRevision = Math.max(this.#maxRevision, b.revision);
      },
    }];
  }

  #grantAlt(
    sem: { lock: string; owner: string; ttlMs: number },
    options: { lease?: Lease; notBefore?: number; what?: string } = {},
  ): Alt {
    const { lease } = options;
    const floor = Math.max(...(this.#tokens.get(sem.lock) ?? [0]));
    return {
      what: options.what ?? "200 granted",
      status: [200],
      logged: true,
      check: (a) => {
        const b = a.body as Record<string, number | string>;
        const earliest = Math.max(a.sentAt, options.notBefore ?? 0) + sem.ttlMs - STAMP_SLACK_MS;
        const latest = a.receivedAt + sem.ttlMs + STAMP_SLACK_MS;
        const expiresAt = b.expiresAt as number;
        const replayed = a.headers["idempotent-replayed"] === "true";
        return all(
          lease !== undefined && !replayed && a.receivedAt < lease.heldUntil &&
            `granted while token ${lease.token} surely held the lock (its ttlMs * ${
              1 - DRIFT
            } had not run out)`,
          fields(a.body, ["name", "token", "owner", "ttlMs", "expiresAt"]),
          is("name", b.name, sem.lock),
          is("owner", b.owner, sem.owner),
          is("ttlMs", b.ttlMs, sem.ttlMs),
          !((b.token as number) > floor) &&
            `fencing token ${b.token} is not above ${floor}, granted before`,
          !replayed && !(expiresAt >= earliest && expiresAt <= latest) &&
            `expiresAt ${expiresAt} is not within [${earliest}, ${latest}]`,
        );
      },
      apply: (a) => {
        const b = a.body as { token: number; expiresAt: number };
        this.#tokens.set(sem.lock, [...(this.#tokens.get(sem.lock) ?? []), b.token]);
        this.#leases.set(sem.lock, {
          token: b.token,
          owner: sem.owner,
          ttlMs: sem.ttlMs,
          expiresAt: b.expiresAt,
          heldUntil: a.sentAt + sem.ttlMs * (1 - DRIFT),
          goneAfter: this.#goneAfter(a.receivedAt + sem.ttlMs * (1 + DRIFT) + STAMP_SLACK_MS),
        });
      },
    };
  }

  #heldAlt(lease: Lease, what = "409 lock-held"): Alt {
    return {
      what,
      status: [409],
      logged: true,
      check: (a) => {
        const b = a.body as { holder?: unknown; expiresAt?: unknown };
        const replayed = a.headers["idempotent-replayed"] === "true";
        return all(
          expectProblem("lock-held")(a),
          !replayed && a.sentAt > lease.goneAfter &&
            `refused though the lease of token ${lease.token} had surely run out`,
          holderProblem(b.holder, lease),
          typeof b.holder === "object" && b.holder !== null &&
            is("expiresAt", b.expiresAt, (b.holder as { expiresAt?: unknown }).expiresAt),
        );
      },
      apply: (a) => observeHolder(lease, (a.body as { holder: { expiresAt: number } }).holder),
    };
  }

  #acquireAlts(sem: Extract<Sem, { kind: "acquire" }>): Alt[] {
    const lease = this.#leases.get(sem.lock);
    const grant = this.#grantAlt(sem, {
      lease,
      what: lease === undefined ? undefined : "200 granted (the lease before it ran out)",
    });
    if (lease === undefined) return [grant];
    return [grant, this.#heldAlt(lease)];
  }

  #renewReleaseAlts(sem: Extract<Sem, { kind: "renew" | "release" }>): Alt[] {
    const lease = this.#leases.get(sem.lock);
    const notHolder: Alt = {
      what: "409 not-holder",
      status: [409],
      logged: true,
      check: (a) =>
        all(
          expectProblem("not-holder")(a),
          lease?.token === sem.token && a.receivedAt < lease.heldUntil &&
            a.headers["idempotent-replayed"] !== "true" &&
            `token ${sem.token} surely still held the lock`,
        ),
      apply: () => {
        if (lease?.token === sem.token) this.#leases.delete(sem.lock);
      },
    };
    if (lease === undefined || lease.token !== sem.token) return [notHolder];
    notHolder.what = "409 not-holder (the lease ran out)";
    const ok: Alt = {
      what: sem.kind === "renew" ? "200 renewed" : "200 released",
      status: [200],
      logged: true,
      check: (a) => {
        const b = a.body as Record<string, number | string>;
        const replayed = a.headers["idempotent-replayed"] === "true";
        const gone = !replayed && a.sentAt > lease.goneAfter &&
          `token ${sem.token} still held the lock after its lease had surely run out`;
        if (sem.kind === "release") {
          return all(gone, is("the body", a.body, { name: sem.lock, token: sem.token }));
        }
        const low = Math.max(lease.expiresAt, a.sentAt + lease.ttlMs - STAMP_SLACK_MS);
        const high = Math.max(lease.expiresAt, a.receivedAt + lease.ttlMs + STAMP_SLACK_MS);
        const expiresAt = b.expiresAt as number;
        return all(
          gone,
          fields(a.body, ["name", "token", "expiresAt"]),
          is("name", b.name, sem.lock),
          is("token", b.token, sem.token),
          !replayed && !(expiresAt >= low && expiresAt <= high) &&
            `expiresAt ${expiresAt} is not within [${low}, ${high}]`,
        );
      },
      apply: (a) => {
        if (sem.kind === "release") {
          // A scenario may have granted the lock to another request meanwhile.
          if (this.#leases.get(sem.lock)?.token === sem.token) this.#leases.delete(sem.lock);
          return;
        }
        const b = a.body as { expiresAt: number };
        lease.expiresAt = b.expiresAt;
        lease.heldUntil = Math.max(lease.heldUntil, a.sentAt + lease.ttlMs * (1 - DRIFT));
        lease.goneAfter = Math.max(
          lease.goneAfter,
          this.#goneAfter(a.receivedAt + lease.ttlMs * (1 + DRIFT) + STAMP_SLACK_MS),
        );
      },
    };
    return [ok, notHolder];
  }

  #lockInfoAlts(lock: string, waiters: unknown[] = []): Alt[] {
    const lease = this.#leases.get(lock);
    const free: Alt = {
      what: "200 free",
      status: [200],
      check: (a) =>
        all(
          lease !== undefined && a.receivedAt < lease.heldUntil &&
            `free while token ${lease.token} surely held it`,
          is("the lock", a.body, { name: lock, holder: null, waiters }),
          // docs/api.md: "Lock state (`GET /v1/locks/{name}`) is `no-store`."
          is("Cache-Control", a.headers["cache-control"], "no-store"),
        ),
      apply: () => this.#leases.delete(lock),
    };
    if (lease === undefined) return [free];
    const held: Alt = {
      what: `200 held by token ${lease.token}`,
      status: [200],
      check: (a) =>
        all(
          a.sentAt > lease.goneAfter + READ_SLACK_MS &&
            `token ${lease.token} still shown as holder after its lease had surely run out`,
          fields(a.body, ["name", "holder", "waiters"]),
          is("name", (a.body as { name?: unknown }).name, lock),
          holderProblem((a.body as { holder?: unknown }).holder, lease),
          is("waiters", (a.body as { waiters?: unknown }).waiters, waiters),
          is("Cache-Control", a.headers["cache-control"], "no-store"),
        ),
      apply: (a) => observeHolder(lease, (a.body as { holder: { expiresAt: number } }).holder),
    };
    return [held, free];
  }

  // ---------------------------------------------------------------------------------------
  // Scenarios

  async #dropRetry(spec: ReqSpec, abortAfterMs: number, index: number): Promise<void> {
    const req = this.build(spec, index);
    if (req === undefined) return;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), abortAfterMs);
    const alts = this.alternatives(req, false);
    const firstSentAt = Date.now();
    const first = await this.#exchange(req, { alts, signal: controller.signal });
    clearTimeout(timer);
    if (this.#found.length > 0) return;
    // Dropped: the retry is the first application or a replay of it, and must look like the
    // answer to the state before the first try either way. Answered: the retry is a replay.
    await this.#exchange(req, { dropped: first === undefined, firstSentAt, retry: true });
    if (this.#found.length > 0) return;
    const { sem } = req;
    const check: ReqSpec | undefined = sem.kind === "put" || sem.kind === "delete"
      ? { op: "get", key: sem.key.slice(this.ns.length + 1) }
      : sem.kind === "acquire" || sem.kind === "renew" || sem.kind === "release"
      ? { op: "lockInfo", lock: sem.lock.slice(this.ns.length + 1) }
      : undefined;
    const follow = check && this.build(check, -1);
    if (follow) await this.#exchange(follow);
  }

  /** Takes `local` for `ttlMs` as owner A; the grant's lease, or undefined (reported). */
  async #takeFirst(local: string, ttlMs: number): Promise<Lease | undefined> {
    const req = this.build({ op: "acquire", lock: local, owner: "A", ttlMs }, -1)!;
    const answer = await this.#exchange(req);
    if (answer?.status !== 200 || this.#found.length > 0) return undefined;
    return this.#leases.get(req.sem.kind === "acquire" ? req.sem.lock : "");
  }

  async #waitExpire(local: string): Promise<void> {
    const first = await this.#takeFirst(local, 1000);
    if (first === undefined) return;
    const lock = this.lock(local);
    // The wait is granted after ~1 s; 8 s leaves room for a loaded machine's late tick.
    const sem = { kind: "acquire" as const, lock, owner: "B", ttlMs: 5000, waitMs: 8000 };
    const req: ModelRequest = {
      method: "POST",
      path: lockPath(lock, "acquire"),
      headers: {},
      body: JSON.stringify({ ttlMs: 5000, owner: "B", waitMs: 8000 }),
      token: "alpha",
      sem,
    };
    // Granted when the 1 s lease runs out (not before its ttlMs * 0.99), well within the wait.
    const grant = this.#grantAlt(sem, {
      lease: first,
      notBefore: first.expiresAt,
      what: "200 granted once the lease ran out",
    });
    await this.#exchange(req, { alts: [{ ...grant, replayed: false }] });
  }

  async #waitTimeout(local: string): Promise<void> {
    const first = await this.#takeFirst(local, 30_000);
    if (first === undefined) return;
    const lock = this.lock(local);
    const waitMs = 300;
    const req: ModelRequest = {
      method: "POST",
      path: lockPath(lock, "acquire"),
      headers: {},
      body: JSON.stringify({ ttlMs: 5000, owner: "B", waitMs }),
      token: "alpha",
      sem: { kind: "acquire", lock, owner: "B", ttlMs: 5000, waitMs },
    };
    const held = this.#heldAlt(first, "409 lock-held once waitMs ran out");
    await this.#exchange(req, {
      alts: [{
        ...held,
        replayed: false,
        check: (a) =>
          all(
            held.check!(a),
            a.receivedAt - a.sentAt < waitMs * (1 - DRIFT) - STAMP_SLACK_MS &&
              `answered after ${a.receivedAt - a.sentAt} ms, before waitMs ran out`,
          ),
      }],
    });
    if (this.#found.length > 0) return;
    const info = this.build({ op: "lockInfo", lock: local }, -1)!;
    await this.#exchange(info);
  }

  async #abandonWait(local: string, abortAfterMs: number, index: number): Promise<void> {
    const first = await this.#takeFirst(local, 30_000);
    if (first === undefined) return;
    const lock = this.lock(local);
    const sem = { kind: "acquire" as const, lock, owner: "B", ttlMs: 30_000, waitMs: 8000 };
    const req: ModelRequest = {
      method: "POST",
      path: lockPath(lock, "acquire"),
      headers: { "idempotency-key": `${this.ns}-w${index}` },
      body: JSON.stringify({ ttlMs: 30_000, owner: "B", waitMs: 8000 }),
      token: "alpha",
      sem,
    };
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), abortAfterMs);
    const never: Alt = { what: "no answer while the lock is surely held", status: [] };
    const dropped = await this.#exchange(req, { alts: [never], signal: controller.signal });
    clearTimeout(timer);
    if (dropped !== undefined || this.#found.length > 0) return;
    // The retry rejoins the line (docs/api.md, "Exactly once"); the holder then lets go.
    const retry = this.#exchange(req, {
      retry: true,
      alts: [this.#grantAlt(sem, {
        what: "200 granted to the retried wait once the holder released",
      })],
    });
    await new Promise((resolve) => setTimeout(resolve, 150));
    const release = this.build({ op: "release", lock: local, which: "held" }, -1)!;
    await this.#exchange(release);
    await retry;
    if (this.#found.length > 0) return;
    const info = this.build({ op: "lockInfo", lock: local }, -1)!;
    await this.#exchange(info);
  }

  // ---------------------------------------------------------------------------------------
  // Shared keys and locks

  async #sharedPut(k: number, cas: boolean): Promise<void> {
    const key = `shared/k${k}`;
    const value = { client: this.client, n: ++this.#writeCounter };
    const seen = this.#sharedSeen.get(key);
    const headers: Record<string, string> = {};
    const ifMatch = cas && seen !== undefined ? seen : undefined;
    if (ifMatch !== undefined) headers["if-match"] = `"${ifMatch}"`;
    const req: ModelRequest = {
      method: "PUT",
      path: keyPath(key, k % 2 === 0),
      headers,
      body: JSON.stringify(value),
      token: "alpha",
      sem: { kind: "put", key, value, ifMatch },
    };
    const floor = this.#maxRevision;
    const alts: Alt[] = [{
      what: "200 written",
      status: [200],
      replayed: false,
      check: (a) => {
        const b = a.body as Record<string, number>;
        return all(
          fields(a.body, ["key", "revision", "createRevision", "version", "prevRevision"]),
          is("key", b.key, key),
          !(b.revision > floor) && `revision ${b.revision} is not above ${floor}, already seen`,
          ifMatch !== undefined && is("prevRevision", b.prevRevision, ifMatch),
          seen !== undefined && !(b.prevRevision >= seen) &&
            `prevRevision ${b.prevRevision} is below ${seen}, already seen for this key`,
        );
      },
      apply: (a) => {
        const b = a.body as Record<string, number>;
        this.#maxRevision = Math.max(this.#maxRevision, b.revision);
        this.#sharedSeen.set(key, b.revision);
        this.ledger.acknowledged(b.revision, `client ${this.client}: PUT ${key}`, this);
        this.ledger.sharedWrite(key, b.revision, value, b.createRevision);
      },
    }];
    if (ifMatch !== undefined) {
      alts.push({
        what: "412 precondition-failed",
        status: [412],
        replayed: false,
        check: (a) => {
          const current = (a.body as { currentRevision?: number }).currentRevision ?? -1;
          return all(
            expectProblem("precondition-failed")(a),
            !(current > ifMatch) &&
              `currentRevision ${current} is not above ${ifMatch}, already seen`,
          );
        },
        apply: (a) => {
          const current = (a.body as { currentRevision: number }).currentRevision;
          this.#sharedSeen.set(key, current);
          this.#maxRevision = Math.max(this.#maxRevision, current);
        },
      });
    }
    await this.#exchange(req, { alts });
  }

  async #sharedGet(k: number): Promise<void> {
    const key = `shared/k${k}`;
    const seen = this.#sharedSeen.get(key);
    const req: ModelRequest = {
      method: "GET",
      path: keyPath(key, k % 2 === 1),
      headers: {},
      token: "alpha",
      sem: { kind: "get", key },
    };
    const alts: Alt[] = [{
      what: "200 with a revision not below the last seen",
      status: [200],
      replayed: false,
      check: (a) => {
        const b = a.body as { revision: number };
        return all(
          fields(a.body, ["key", "value", "revision", "createRevision", "version"]),
          seen !== undefined && !(b.revision >= seen) &&
            `revision ${b.revision} is below ${seen}, already seen for this key`,
          this.#revisionSeen(a),
        );
      },
      apply: (a) => {
        const b = a.body as { revision: number; value: Json; createRevision: number };
        this.#sharedSeen.set(key, b.revision);
        this.#maxRevision = Math.max(this.#maxRevision, Number(a.headers["x-revision"]));
        this.ledger.sharedRead(key, b.revision, b.value, b.createRevision, this);
      },
    }];
    if (seen === undefined) {
      alts.push({ what: "404 not-found", status: [404], check: expectProblem("not-found") });
    }
    await this.#exchange(req, { alts });
  }

  async #sharedAcquire(l: number): Promise<void> {
    const lock = `shared-l${l}`;
    const ttlMs = 1000 + 100 * (this.client % 5);
    const owner = `client-${this.client}`;
    const req: ModelRequest = {
      method: "POST",
      path: lockPath(lock, "acquire"),
      headers: {},
      body: JSON.stringify({ ttlMs, owner }),
      token: "alpha",
      sem: { kind: "acquire", lock, owner, ttlMs, waitMs: 0 },
    };
    const mine = this.#sharedLeases.get(lock);
    const floor = this.#sharedTokens.get(lock) ?? 0;
    const alts: Alt[] = [{
      what: "200 granted",
      status: [200],
      replayed: false,
      check: (a) => {
        const b = a.body as { token: number; owner: string; name: string };
        return all(
          mine !== undefined && a.receivedAt < mine.heldUntil &&
            `granted while this client's token ${mine.token} surely held it`,
          fields(a.body, ["name", "token", "owner", "ttlMs", "expiresAt"]),
          is("owner", b.owner, owner),
          !(b.token > floor) && `fencing token ${b.token} is not above ${floor}, seen before`,
        );
      },
      apply: (a) => {
        const b = a.body as { token: number; expiresAt: number };
        this.#sharedTokens.set(lock, b.token);
        const grant = this.ledger.grant(lock, b.token, this.client, a, ttlMs);
        this.#sharedLeases.set(lock, {
          token: b.token,
          owner,
          ttlMs,
          expiresAt: b.expiresAt,
          heldUntil: a.sentAt + ttlMs * (1 - DRIFT),
          goneAfter: this.#goneAfter(a.receivedAt + ttlMs * (1 + DRIFT) + STAMP_SLACK_MS),
          grant,
        });
      },
    }, {
      what: "409 lock-held",
      status: [409],
      replayed: false,
      check: (a) => {
        const holder = (a.body as { holder?: { token?: number; owner?: string } }).holder;
        return all(
          expectProblem("lock-held")(a),
          mine !== undefined && a.sentAt > mine.goneAfter && holder?.token === mine.token &&
            `this client's token ${mine.token} still held it after its lease had surely run out`,
          typeof holder !== "object" || holder === null
            ? `holder ${JSON.stringify(holder)} is not {token, owner, expiresAt}`
            : all(
              fields(holder, ["token", "owner", "expiresAt"]),
              !((holder.token ?? 0) >= floor) &&
                `holder token ${holder.token} is below ${floor}, seen before`,
              mine !== undefined && a.receivedAt < mine.heldUntil &&
                is("holder", holder.token, mine.token),
            ),
        );
      },
      apply: (a) => {
        const holder = (a.body as { holder: { token: number } }).holder;
        this.#sharedTokens.set(lock, Math.max(floor, holder.token));
        if (mine !== undefined && holder.token !== mine.token) this.#sharedLeases.delete(lock);
      },
    }];
    await this.#exchange(req, { alts });
  }

  async #sharedRenewRelease(l: number, action: "renew" | "release"): Promise<void> {
    const lock = `shared-l${l}`;
    const mine = this.#sharedLeases.get(lock);
    if (mine === undefined) return await this.#sharedAcquire(l);
    const req: ModelRequest = {
      method: "POST",
      path: lockPath(lock, action),
      headers: {},
      body: JSON.stringify({ token: mine.token }),
      token: "alpha",
      sem: { kind: action, lock, token: mine.token },
    };
    const alts: Alt[] = [{
      what: `200 ${action === "renew" ? "renewed" : "released"} (a shared lock)`,
      status: [200],
      replayed: false,
      check: (a) =>
        a.sentAt > mine.goneAfter
          ? `token ${mine.token} still held the lock after its lease had surely run out`
          : undefined,
      apply: (a) => {
        if (action === "release") {
          mine.grant.releasedAt = a.sentAt;
          this.#sharedLeases.delete(lock);
          return;
        }
        mine.heldUntil = Math.max(mine.heldUntil, a.sentAt + mine.ttlMs * (1 - DRIFT));
        mine.goneAfter = Math.max(
          mine.goneAfter,
          this.#goneAfter(a.receivedAt + mine.ttlMs * (1 + DRIFT) + STAMP_SLACK_MS),
        );
        mine.grant.heldUntil = Math.max(mine.grant.heldUntil, mine.heldUntil);
      },
    }, {
      what: "409 not-holder",
      status: [409],
      replayed: false,
      check: (a) =>
        all(
          expectProblem("not-holder")(a),
          a.receivedAt < mine.heldUntil && `token ${mine.token} surely still held the lock`,
        ),
      apply: () => this.#sharedLeases.delete(lock),
    }];
    await this.#exchange(req, { alts });
  }

  /** Reports an invariant broken across clients (from {@linkcode SharedLedger}). */
  static invariant(kind: string, detail: string): Discrepancy {
    return { client: -1, step: -1, kind, request: "", answer: detail, expected: [] };
  }
}

/**
 * Whether `holder` is the lease as the model knows it: same token and owner, and an `expiresAt`
 * no earlier than the last one seen ("a leader change never shortens a lease": it may lengthen
 * it, by the time between the old leader's last stamp and the new one's first).
 */
function holderProblem(holder: unknown, lease: Lease): string | undefined {
  if (typeof holder !== "object" || holder === null) {
    return `holder ${JSON.stringify(holder)} is not {token, owner, expiresAt}`;
  }
  const h = holder as { token?: unknown; owner?: unknown; expiresAt?: unknown };
  return all(
    fields(holder, ["token", "owner", "expiresAt"]),
    is("holder.token", h.token, lease.token),
    is("holder.owner", h.owner, lease.owner),
    !(typeof h.expiresAt === "number" && h.expiresAt >= lease.expiresAt) &&
      `holder.expiresAt ${h.expiresAt} is before ${lease.expiresAt}, seen before`,
  );
}

/** A lease seen to last longer (a leader change): it surely ends that much later too. */
function observeHolder(lease: Lease, holder: { expiresAt: number }): void {
  if (holder.expiresAt <= lease.expiresAt) return;
  lease.goneAfter += holder.expiresAt - lease.expiresAt;
  lease.expiresAt = holder.expiresAt;
}

function meta(k: KeyState): { revision: number; createRevision: number; version: number } {
  return { revision: k.revision, createRevision: k.createRevision, version: k.version };
}

/** What every answer must be: no 5xx, and every error a problem+json that names its status. */
function generalProblems(a: Answer): string | undefined {
  if (a.status >= 500) return `a ${a.status}`;
  // "Headers on every answer: X-Revision" (docs/api.md), but for the connection layer's own
  // answers (408, 431: "without X-Revision/X-Leader", docs/api.md, Connections).
  const front = a.status === 408 || a.status === 431;
  if (!front && a.headers["x-revision"] === undefined) return "no X-Revision header";
  if (a.status < 400) return undefined;
  if (!(a.headers["content-type"] ?? "").startsWith("application/problem+json")) {
    return `a ${a.status} that is not application/problem+json`;
  }
  const body = a.body as { type?: unknown; status?: unknown } | null;
  if (typeof body?.type !== "string" || !body.type.startsWith("urn:edgeraft:problem:")) {
    return "a problem without its type";
  }
  if (body.status !== a.status) return `a problem whose status is ${body.status}`;
  return undefined;
}

/**
 * A grant of a shared lock, for the mutual-exclusion check at the end.
 *
 * @example
 * ```ts
 * import type { GrantRecord } from "./reference_model.ts";
 * const g: GrantRecord = {
 *   lock: "shared-l0", token: 9, client: 1, sentAt: 0, receivedAt: 2, heldUntil: 990,
 * };
 * ```
 */
export interface GrantRecord {
  lock: string;
  token: number;
  client: number;
  sentAt: number;
  receivedAt: number;
  /** The lease surely lasted until here (client clock), unless released earlier. */
  heldUntil: number;
  /** When the holder sent its successful release. */
  releasedAt?: number;
}

/**
 * What all clients saw, checked for invariants that hold under concurrency: every acknowledged
 * write has its own revision; every read of a shared key returns a write that was acknowledged
 * with that revision; at the end each shared key holds its last acknowledged write (none lost);
 * fencing tokens of a shared lock increase in real-time order, and no grant overlaps the
 * previous holder's lease.
 *
 * @example
 * ```ts
 * import { SharedLedger } from "./reference_model.ts";
 * const ledger = new SharedLedger();
 * ledger.remaining = 100;
 * ```
 */
export class SharedLedger {
  /** Requests the run may still send. */
  remaining = 0;
  /** How often each kind of answer was seen and accepted: what the run exercised. */
  readonly coverage = new Map<string, number>();
  /** Requests sent with an Idempotency-Key, by all clients (see SURELY_REMEMBERED_USES). */
  keyUses = 0;
  #revisions = new Map<number, string>();
  #writes = new Map<string, Map<number, { value: Json; createRevision: number }>>();
  #reads: { key: string; revision: number; value: Json; createRevision: number; by: number }[] = [];
  #grants: GrantRecord[] = [];
  #found: Discrepancy[] = [];

  /** Records a write acknowledged (not replayed) with `revision`. */
  acknowledged(revision: number, what: string, _by: ClientModel): void {
    const before = this.#revisions.get(revision);
    if (before !== undefined) {
      this.#found.push(ClientModel.invariant(
        "two acknowledged writes with one revision",
        `revision ${revision}: ${before}, and ${what}`,
      ));
    }
    this.#revisions.set(revision, what);
  }

  /** Records an acknowledged write of a shared key. */
  sharedWrite(key: string, revision: number, value: Json, createRevision: number): void {
    if (!this.#writes.has(key)) this.#writes.set(key, new Map());
    this.#writes.get(key)!.set(revision, { value, createRevision });
  }

  /** Records a read of a shared key (checked at the end, when every write is acknowledged). */
  sharedRead(
    key: string,
    revision: number,
    value: Json,
    createRevision: number,
    by: ClientModel,
  ): void {
    this.#reads.push({ key, revision, value, createRevision, by: by.client });
  }

  /** Records a grant of a shared lock. */
  grant(lock: string, token: number, client: number, a: Answer, ttlMs: number): GrantRecord {
    const record: GrantRecord = {
      lock,
      token,
      client,
      sentAt: a.sentAt,
      receivedAt: a.receivedAt,
      heldUntil: a.sentAt + ttlMs * (1 - DRIFT),
    };
    this.#grants.push(record);
    return record;
  }

  /** Discrepancies found while the run went on (e.g. a revision acknowledged twice). */
  takeFound(): Discrepancy[] {
    const found = this.#found;
    this.#found = [];
    return found;
  }

  /**
   * The checks at the end, given the final read of each shared key (`undefined`: 404).
   */
  finish(finalReads: Map<string, { revision: number; value: Json } | undefined>): Discrepancy[] {
    const found: Discrepancy[] = [];
    const fail = (kind: string, detail: string) => found.push(ClientModel.invariant(kind, detail));
    for (const read of this.#reads) {
      const write = this.#writes.get(read.key)?.get(read.revision);
      if (write === undefined) {
        fail(
          "a read of a shared key returned a revision no acknowledged write has",
          `client ${read.by} read ${read.key} at revision ${read.revision}: ${
            JSON.stringify(read.value)
          }`,
        );
      } else if (!isDeepStrictEqual(write.value, read.value)) {
        fail(
          "a read of a shared key returned another value than the write of its revision",
          `${read.key} at ${read.revision}: read ${JSON.stringify(read.value)}, written ${
            JSON.stringify(write.value)
          }`,
        );
      }
    }
    for (const [key, final] of finalReads) {
      const writes = this.#writes.get(key);
      if (writes === undefined || writes.size === 0) continue;
      const last = Math.max(...writes.keys());
      if (final === undefined || final.revision !== last) {
        fail(
          "an acknowledged write of a shared key was lost",
          `${key}: last acknowledged write at revision ${last}, final read ${
            JSON.stringify(final)
          }`,
        );
      } else if (!isDeepStrictEqual(final.value, writes.get(last)!.value)) {
        fail("a shared key ended with another value than its last write", key);
      }
      const creates = new Set([...writes.values()].map((w) => w.createRevision));
      if (creates.size > 1) {
        fail("a shared key's createRevision changed without a delete", `${key}: ${[...creates]}`);
      }
    }
    const byLock = Map.groupBy(this.#grants, (g) => g.lock);
    for (const [lock, grants] of byLock) {
      grants.sort((a, b) => a.token - b.token);
      for (let i = 1; i < grants.length; i++) {
        const [g1, g2] = [grants[i - 1], grants[i]];
        if (g1.token === g2.token) {
          fail("one fencing token granted twice", `${lock}: token ${g1.token}`);
          continue;
        }
        const endedBy = Math.min(g1.releasedAt ?? Infinity, g1.heldUntil);
        if (g2.receivedAt < endedBy) {
          fail(
            "two holders of a shared lock at once",
            `${lock}: token ${g2.token} (client ${g2.client}) granted ${
              endedBy - g2.receivedAt
            } ms before token ${g1.token} (client ${g1.client}) surely ended`,
          );
        }
      }
      for (const g1 of grants) {
        for (const g2 of grants) {
          if (g1.receivedAt < g2.sentAt && !(g1.token < g2.token)) {
            fail(
              "fencing tokens of a shared lock not increasing in real time",
              `${lock}: token ${g1.token} answered before token ${g2.token} was asked for`,
            );
          }
        }
      }
    }
    return found;
  }
}
