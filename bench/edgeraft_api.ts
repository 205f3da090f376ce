/**
 * The workload operations over edgeraft's v1 API (docs/architecture.md#the-http-api-layer).
 *
 * @module
 */

import type { HttpClient } from "./http_clients.ts";
import { expectOk, type LockSession, type ReadConsistency, type SystemApi } from "./system_api.ts";

/** Beyond `waitMs`, how long an acquire may take before the client gives up. */
const ANSWER_MARGIN_MS = 10_000;

/**
 * The path of a config read of `key` with `consistency`.
 *
 * @example
 * ```ts
 * import { edgeraftGetPath } from "./edgeraft_api.ts";
 * edgeraftGetPath("a/b", "stale"); // "/v1/config/a%2Fb?consistency=stale"
 * ```
 */
export function edgeraftGetPath(key: string, consistency: ReadConsistency): string {
  const query = consistency === "stale" ? "?consistency=stale" : "";
  return `/v1/config/${encodeURIComponent(key)}${query}`;
}

class EdgeraftLockSession implements LockSession {
  #ttlMs: number;

  constructor(ttlMs: number) {
    this.#ttlMs = ttlMs;
  }

  async acquire(
    http: HttpClient,
    name: string,
    opts: { waitMs: number; timeoutMs?: number },
  ): Promise<string> {
    const answer = expectOk(
      `acquire ${name}`,
      await http.request({
        method: "POST",
        path: `/v1/locks/${encodeURIComponent(name)}/acquire`,
        body: `{"ttlMs":${this.#ttlMs},"waitMs":${opts.waitMs}}`,
        timeoutMs: opts.timeoutMs ?? opts.waitMs + ANSWER_MARGIN_MS,
      }),
    );
    const { token } = JSON.parse(answer.body) as { token: number };
    return String(token);
  }

  async release(http: HttpClient, name: string, held: string): Promise<void> {
    expectOk(
      `release ${name}`,
      await http.request({
        method: "POST",
        path: `/v1/locks/${encodeURIComponent(name)}/release`,
        body: `{"token":${held}}`,
        timeoutMs: ANSWER_MARGIN_MS,
      }),
    );
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * edgeraft: `PUT/GET /v1/config/{key}` (stale: `?consistency=stale`) and
 * `POST /v1/locks/{name}/acquire|release`.
 *
 * @example
 * ```ts ignore
 * import { edgeraftApi } from "./edgeraft_api.ts";
 * await edgeraftApi.put(http, "bench-k00001", "x".repeat(100));
 * ```
 */
export const edgeraftApi: SystemApi = {
  system: "edgeraft",

  async put(http, key, value) {
    expectOk(
      `put ${key}`,
      await http.request({
        method: "PUT",
        path: `/v1/config/${encodeURIComponent(key)}`,
        body: JSON.stringify(value),
        timeoutMs: ANSWER_MARGIN_MS,
      }),
    );
  },

  async get(http, key, consistency) {
    expectOk(
      `get ${key}`,
      await http.request({
        method: "GET",
        path: edgeraftGetPath(key, consistency),
        timeoutMs: ANSWER_MARGIN_MS,
      }),
    );
  },

  openLockSession(_http, { lockTtlMs }) {
    return Promise.resolve(new EdgeraftLockSession(lockTtlMs));
  },
};
