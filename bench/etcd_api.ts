/**
 * The workload operations over etcd 3.4's JSON gateway (gRPC-gateway: POST with JSON bodies,
 * keys and values in base64, 64-bit integers as decimal strings).
 *
 * Locks follow etcd's own client (`concurrency.Session` + `Mutex`): a session is one lease,
 * granted once per worker and revoked at its end; each lock cycle is `/v3/lock/lock` with that
 * lease and `/v3/lock/unlock`, two Raft writes, as edgeraft's acquire + release are two. A lease
 * per cycle would add a grant and a revoke to every cycle and slow etcd down for no reason a
 * real client would accept.
 *
 * @module
 */

import type { HttpClient } from "./http_clients.ts";
import { expectOk, type LockSession, type ReadConsistency, type SystemApi } from "./system_api.ts";

const ANSWER_MARGIN_MS = 10_000;

/** Base64 of a string's UTF-8 bytes, as the gateway wants keys and values. */
function base64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/**
 * The body of etcd's `/v3/kv/range` for one key, serializable when `consistency` is stale.
 *
 * @example
 * ```ts
 * import { etcdRangeRequest } from "./etcd_api.ts";
 * etcdRangeRequest("k", "stale"); // { key: "aw==", serializable: true }
 * ```
 */
export function etcdRangeRequest(
  key: string,
  consistency: ReadConsistency,
): { key: string; serializable?: true } {
  return consistency === "stale" ? { key: base64(key), serializable: true } : { key: base64(key) };
}

async function post(
  http: HttpClient,
  what: string,
  path: string,
  body: unknown,
  timeoutMs = ANSWER_MARGIN_MS,
) {
  const answer = expectOk(
    what,
    await http.request({ method: "POST", path, body: JSON.stringify(body), timeoutMs }),
  );
  return answer.body;
}

class EtcdLockSession implements LockSession {
  #lease: string;

  constructor(lease: string) {
    this.#lease = lease;
  }

  async acquire(
    http: HttpClient,
    name: string,
    opts: { waitMs: number; timeoutMs?: number },
  ): Promise<string> {
    // etcd's lock call has no wait limit of its own: the client's timeout is the limit.
    const body = await post(
      http,
      `lock ${name}`,
      "/v3/lock/lock",
      { name: base64(name), lease: this.#lease },
      opts.timeoutMs ?? opts.waitMs + ANSWER_MARGIN_MS,
    );
    const { key } = JSON.parse(body) as { key?: string };
    if (!key) throw new Error(`lock ${name}: no key in ${body.slice(0, 200)}`);
    return key;
  }

  async release(http: HttpClient, name: string, held: string): Promise<void> {
    await post(http, `unlock ${name}`, "/v3/lock/unlock", { key: held });
  }

  async close(http: HttpClient): Promise<void> {
    await post(http, "revoke lease", "/v3/lease/revoke", { ID: this.#lease });
  }
}

/**
 * etcd: `/v3/kv/put`, `/v3/kv/range` (stale: `serializable: true`), and a lease per lock
 * session with `/v3/lock/lock` + `/v3/lock/unlock`.
 *
 * @example
 * ```ts ignore
 * import { etcdApi } from "./etcd_api.ts";
 * await etcdApi.put(http, "bench-k00001", "x".repeat(100));
 * ```
 */
export const etcdApi: SystemApi = {
  system: "etcd",

  async put(http, key, value) {
    await post(http, `put ${key}`, "/v3/kv/put", { key: base64(key), value: base64(value) });
  },

  async get(http, key, consistency) {
    const body = await post(http, `get ${key}`, "/v3/kv/range", etcdRangeRequest(key, consistency));
    // An absent key is a 200 without "kvs"; the workload reads only keys it wrote.
    if (!body.includes('"kvs"')) throw new Error(`get ${key}: not found`);
  },

  async openLockSession(http, { sessionMs }) {
    const ttlSeconds = Math.ceil(sessionMs / 1000);
    const body = await post(http, "grant lease", "/v3/lease/grant", { TTL: ttlSeconds });
    const { ID } = JSON.parse(body) as { ID?: string };
    if (!ID) throw new Error(`grant lease: no ID in ${body.slice(0, 200)}`);
    return new EtcdLockSession(ID);
  },
};
