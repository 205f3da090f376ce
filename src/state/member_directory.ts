/**
 * Where each member of the cluster listens: the replicated directory of peer and client URLs.
 *
 * The core knows members only by id (who votes, who learns); a node needs their addresses too,
 * and a node that joins, or restarts from its data directory alone, must learn them from the log
 * or a snapshot. So every membership change carries the whole directory as it is after the
 * change (absolute, not a difference: applying one twice, or from any starting point, ends in
 * the same place), and the state machine keeps the latest, in its snapshots too
 * (docs/architecture.md#membership).
 *
 * @module
 */

import type { NodeId } from "../raft/types.ts";

/**
 * A member's addresses.
 *
 * @example
 * ```ts
 * import type { MemberAddress } from "./member_directory.ts";
 * const a: MemberAddress = { peerUrl: "http://127.0.0.1:7104", clientUrl: "http://127.0.0.1:7004" };
 * ```
 */
export interface MemberAddress {
  peerUrl: string;
  clientUrl: string;
}

/**
 * Every member's addresses, and the next id to hand out: ids are never used twice, so that a
 * removed node that comes back (its old data directory, its old messages) is never taken for a
 * new one.
 *
 * @example
 * ```ts
 * import type { MemberDirectory } from "./member_directory.ts";
 * const d: MemberDirectory = {
 *   nextId: 4,
 *   members: new Map([[1, { peerUrl: "http://127.0.0.1:7101", clientUrl: "http://127.0.0.1:7001" }]]),
 * };
 * ```
 */
export interface MemberDirectory {
  nextId: NodeId;
  members: Map<NodeId, MemberAddress>;
}

/** The directory as a snapshot and a log entry hold it: `[nextId, [[id, peerUrl, clientUrl]...]]`. */
export type DirectoryTuple = [number, [number, string, string][]];

/**
 * The directory as plain data (ids in order), for a log entry or a snapshot.
 *
 * @example
 * ```ts
 * import { directoryToTuple } from "./member_directory.ts";
 * const t = directoryToTuple({ nextId: 2, members: new Map([[1, { peerUrl: "p", clientUrl: "c" }]]) });
 * console.log(JSON.stringify(t)); // [2,[[1,"p","c"]]]
 * ```
 */
export function directoryToTuple(d: MemberDirectory): DirectoryTuple {
  const members = [...d.members].sort(([a], [b]) => a - b)
    .map(([id, m]) => [id, m.peerUrl, m.clientUrl] as [number, string, string]);
  return [d.nextId, members];
}

/**
 * Reads a directory tuple, checking its shape (it came from the log or a snapshot file).
 * Throws a `TypeError` when it is not one.
 *
 * @example
 * ```ts
 * import { directoryFromTuple } from "./member_directory.ts";
 * const d = directoryFromTuple([2, [[1, "p", "c"]]]);
 * console.log(d.members.get(1)?.clientUrl); // "c"
 * ```
 */
export function directoryFromTuple(t: unknown): MemberDirectory {
  const bad = () => new TypeError("malformed member directory");
  if (!Array.isArray(t) || t.length !== 2 || !Number.isSafeInteger(t[0]) || !Array.isArray(t[1])) {
    throw bad();
  }
  const members = new Map<NodeId, MemberAddress>();
  for (const m of t[1]) {
    if (
      !Array.isArray(m) || m.length !== 3 || !Number.isSafeInteger(m[0]) || m[0] <= 0 ||
      typeof m[1] !== "string" || typeof m[2] !== "string" || m[0] >= t[0]
    ) throw bad();
    members.set(m[0], { peerUrl: m[1], clientUrl: m[2] });
  }
  return { nextId: t[0], members };
}
