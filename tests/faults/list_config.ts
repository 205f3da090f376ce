/**
 * Reads every config key under a prefix from one node, page by page (docs/api.md: `GET
 * /v1/config?prefix=&limit=&after=`), for the final reads of a fault run: the durability
 * workload's keys and the preloaded state.
 *
 * @module
 */

import { callJson } from "./workloads/http_call.ts";

/** The API's largest page (`maxListLimit`): fewer round trips for a large preload. */
const PAGE = 1000;

/**
 * Lists every key under `prefix` on the node at `clientUrl`, linearizably or (with `stale`) from
 * the node's own state, and returns key -> value. Throws on any answer but a page (the caller
 * retries or gives up: a final read that fails is a run error, not a verdict).
 *
 * @example
 * ```ts ignore
 * import { listConfig } from "./list_config.ts";
 * const values = await listConfig("http://127.0.0.1:7001", "dur/", { stale: true });
 * console.log(values.size);
 * ```
 */
export async function listConfig(
  clientUrl: string,
  prefix: string,
  options: { stale?: boolean; timeoutMs?: number } = {},
): Promise<Map<string, unknown>> {
  const values = new Map<string, unknown>();
  let after: string | undefined;
  for (;;) {
    const query = new URLSearchParams({ prefix, limit: String(PAGE) });
    if (after !== undefined) query.set("after", after);
    if (options.stale) query.set("consistency", "stale");
    const outcome = await callJson(`${clientUrl}/v1/config?${query}`, { method: "GET" }, {
      timeoutMs: options.timeoutMs ?? 10_000,
    });
    if (outcome.kind !== "ok") {
      throw new Error(`listing ${prefix} on ${clientUrl}: ${JSON.stringify(outcome)}`);
    }
    const page = outcome.body as {
      items: { key: string; value: unknown }[];
      next?: string | null;
    };
    for (const item of page.items) values.set(item.key, item.value);
    if (!page.next) return values;
    after = page.next;
  }
}
