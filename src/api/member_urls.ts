/**
 * Where a member listens, as the API names it (`X-Leader`, `/v1/cluster`, `/v1/status`): the
 * node's replicated directory when it has one, else the founding flags this node was started
 * with. A member that joined after this node started is only in the directory; a node that
 * joined itself may have been started with no flags at all.
 *
 * @module
 */

import type { NodeId } from "../raft/types.ts";
import type { ApiDeps } from "./app_env.ts";

/** What the client URL lookups need of the API's dependencies. */
type UrlDeps = Pick<ApiDeps, "node" | "clientUrls">;

/**
 * A member's client URL, or undefined when neither the flags nor the directory know it. The
 * flags are asked first: this runs on every answer (`X-Leader`), a founding member's URL never
 * changes (ids are never reused), and the directory is asked only for the members the flags
 * do not name.
 *
 * @example
 * ```ts ignore
 * const leader = clientUrlOf(deps, node.leaderId()) ?? String(node.leaderId());
 * ```
 */
export function clientUrlOf(deps: UrlDeps, id: NodeId): string | undefined {
  const known = deps.clientUrls.get(id);
  if (known) return known;
  return deps.node.directory?.().members.get(id)?.clientUrl || undefined;
}

/**
 * A member's peer URL, or undefined when neither the directory nor the flags know it.
 *
 * @example
 * ```ts ignore
 * const peerUrl = peerUrlOf(deps, 4) ?? null;
 * ```
 */
export function peerUrlOf(deps: Pick<ApiDeps, "node" | "peers">, id: NodeId): string | undefined {
  return deps.node.directory?.().members.get(id)?.peerUrl || deps.peers.get(id) || undefined;
}

/**
 * The `X-Leader` value: the leader's client URL when known, else its id; undefined with no
 * leader.
 *
 * @example
 * ```ts ignore
 * const leader = leaderHeader(deps);
 * if (leader !== undefined) headers.set("x-leader", leader);
 * ```
 */
export function leaderHeader(deps: UrlDeps): string | undefined {
  const leader = deps.node.leaderId();
  if (leader === 0) return undefined;
  return clientUrlOf(deps, leader) ?? String(leader);
}
