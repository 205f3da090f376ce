/**
 * Puts on every answer the revision of the state it reflects (`X-Revision`) and who leads
 * (`X-Leader`: the leader's client URL when known, else its node id).
 *
 * @module
 */

import type { MiddlewareHandler } from "hono";
import type { ApiNode } from "../../api_node.ts";
import { leaderHeader } from "../../member_urls.ts";

/**
 * The middleware. A handler that knows a more precise revision (a write's, or the one a read
 * was served at) sets `X-Revision` itself; otherwise it is the node's revision after the
 * handler ran. `clientUrls` are the founding flags; members that joined later are named from
 * the node's directory.
 *
 * @example
 * ```ts ignore
 * app.use("*", clusterHeaders(node, new Map([[1, "http://127.0.0.1:7001"]])));
 * ```
 */
export function clusterHeaders(
  node: ApiNode,
  clientUrls: ReadonlyMap<number, string>,
): MiddlewareHandler {
  return async (c, next) => {
    await next();
    const headers = c.res.headers;
    if (!headers.has("x-revision")) headers.set("x-revision", String(node.revision()));
    const leader = leaderHeader({ node, clientUrls });
    if (leader !== undefined) headers.set("x-leader", leader);
  };
}
