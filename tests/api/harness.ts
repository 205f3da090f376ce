/**
 * Test helpers: an app over a fake node, and a request helper that decodes the answer.
 *
 * @module
 */

import { type ApiOptions, createApp } from "../../src/api/app.ts";
import type { StateMachineOptions } from "../../src/state/state_machine.ts";
import { FakeNode, ManualClock } from "./fake_node.ts";

/**
 * An app over a fresh fake node.
 *
 * @example
 * ```ts
 * import { makeApp } from "./harness.ts";
 * const { app, node } = makeApp();
 * ```
 */
export function makeApp(options: Partial<ApiOptions> = {}, sm?: StateMachineOptions) {
  const clock = new ManualClock();
  const node = new FakeNode({ clock, sm });
  const app = createApp(node, {
    clusterId: "test",
    peers: new Map([[1, "http://127.0.0.1:7101"], [2, "http://127.0.0.1:7102"], [
      3,
      "http://127.0.0.1:7103",
    ]]),
    clientUrls: new Map([[1, "http://127.0.0.1:7001"]]),
    clock: clock.now,
    ...options,
  });
  return { app, node, clock };
}

/**
 * An answer, with its body parsed when it is JSON.
 *
 * @example
 * ```ts
 * import type { Answer } from "./harness.ts";
 * const ok = (a: Answer) => a.status === 200;
 * ```
 */
export interface Answer {
  status: number;
  headers: Headers;
  // deno-lint-ignore no-explicit-any
  body: any;
  text: string;
}

/**
 * Sends one request through `app.request()`. A `json` body is sent as application/json.
 *
 * @example
 * ```ts ignore
 * const a = await send(app, "PUT", "/v1/config/a", { json: 1 });
 * ```
 */
export async function send(
  app: { request: (input: string, init?: RequestInit) => Response | Promise<Response> },
  method: string,
  path: string,
  init: {
    json?: unknown;
    body?: BodyInit;
    headers?: Record<string, string>;
    signal?: AbortSignal;
  } = {},
): Promise<Answer> {
  const headers = new Headers(init.headers);
  let body = init.body;
  if (init.json !== undefined) {
    body = JSON.stringify(init.json);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
  }
  const response = await app.request(path, { method, headers, body, signal: init.signal });
  const text = await response.text();
  const type = response.headers.get("content-type") ?? "";
  return {
    status: response.status,
    headers: response.headers,
    body: type.includes("json") && text !== "" ? JSON.parse(text) : undefined,
    text,
  };
}
