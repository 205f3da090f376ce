/**
 * A node's identity on disk: `<data-dir>/node.json` holds its id, its cluster's id and how the
 * data directory began (founded with `--peers`, joined with `--join`, restored with
 * `--restore-from`), so that a restart needs no flags beyond the data directory and its ports,
 * and a restart with another `--id` is refused instead of running one log under two names.
 *
 * The file is written last when a node starts from nothing (after its storage holds the
 * snapshot it joined or restored from): a data directory with `node.json` is a complete one.
 *
 * @module
 */

import { join } from "node:path";
import type { NodeId } from "../raft/types.ts";
import { sha256Hex } from "../storage/backup_file.ts";

/** The file's name inside the data directory. */
export const IDENTITY_FILE = "node.json";

/**
 * How a data directory began: `founded` by a member of `--peers`, `joined` a running cluster,
 * `restored` from a backup (with the backup's SHA-256, so that a node started again with the
 * same `--restore-from` is recognised instead of refused).
 *
 * @example
 * ```ts
 * import type { NodeIdentity } from "./node_identity.ts";
 * const me: NodeIdentity = { id: 4, clusterId: "c-1a2b3c4d5e6f7a8b", origin: "joined" };
 * ```
 */
export interface NodeIdentity {
  id: NodeId;
  clusterId: string;
  origin: "founded" | "joined" | "restored";
  /** For `restored`: the SHA-256 of the backup's data. */
  restoredFrom?: string;
  /**
   * For `founded` and `restored`: the founding voters' peer and client URLs by id, as
   * `--peers` and `--client-urls` gave them. A restart without those flags takes them from
   * here: the core replays logged membership changes over the founding voters, so a founder
   * restarted with `--peers` naming only itself would count itself a cluster of one.
   */
  founders?: { peers: Record<string, string>; clientUrls: Record<string, string> };
}

/**
 * `node.json` exists but cannot be read as one; the message names the file and what is wrong.
 *
 * @example
 * ```ts
 * import { IdentityFileError } from "./node_identity.ts";
 * const e = new IdentityFileError("/data/node.json: not JSON");
 * console.log(e.name); // "IdentityFileError"
 * ```
 */
export class IdentityFileError extends Error {
  override name = "IdentityFileError";
}

/**
 * Reads `<dataDir>/node.json`; undefined when there is none (a new data directory, or one
 * written before node.json existed). A file that is there but damaged is an `IdentityFileError`.
 *
 * @example
 * ```ts
 * import { readIdentity } from "./node_identity.ts";
 * const dir = await Deno.makeTempDir();
 * console.log(await readIdentity(dir)); // undefined
 * ```
 */
export async function readIdentity(dataDir: string): Promise<NodeIdentity | undefined> {
  const path = join(dataDir, IDENTITY_FILE);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    // A data dir that is a file (or lies under one) is reported by the storage, with its words.
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) {
      return undefined;
    }
    throw new IdentityFileError(`cannot read ${path}: ${(e as Error).message}`);
  }
  let v: Partial<NodeIdentity>;
  try {
    v = JSON.parse(text);
  } catch {
    throw new IdentityFileError(`${path} is not JSON: fix or remove it (it names this node)`);
  }
  const origins = ["founded", "joined", "restored"];
  if (
    typeof v !== "object" || v === null || !Number.isSafeInteger(v.id) || v.id! <= 0 ||
    typeof v.clusterId !== "string" || v.clusterId === "" || !origins.includes(v.origin!)
  ) {
    throw new IdentityFileError(
      `${path} is not a node identity (want {"id": N, "clusterId": "...", "origin": ...})`,
    );
  }
  const f = v.founders;
  const isUrlMap = (m: unknown) =>
    typeof m === "object" && m !== null &&
    Object.entries(m).every(([k, url]) => /^[1-9]\d*$/.test(k) && typeof url === "string");
  if (f !== undefined && !(isUrlMap(f?.peers) && isUrlMap(f?.clientUrls))) {
    throw new IdentityFileError(`${path}: "founders" is not {"peers": {...}, "clientUrls": {...}}`);
  }
  return {
    id: v.id!,
    clusterId: v.clusterId,
    origin: v.origin!,
    ...(typeof v.restoredFrom === "string" ? { restoredFrom: v.restoredFrom } : {}),
    ...(f === undefined ? {} : { founders: f }),
  };
}

/**
 * Writes `<dataDir>/node.json` atomically: a temporary file in the same directory, flushed to
 * disk, then renamed over the old one, so that a crash leaves the old file or the new, never
 * half of one.
 *
 * @example
 * ```ts
 * import { readIdentity, writeIdentity } from "./node_identity.ts";
 * const dir = await Deno.makeTempDir();
 * await writeIdentity(dir, { id: 2, clusterId: "c-x", origin: "founded" });
 * console.log((await readIdentity(dir))?.id); // 2
 * ```
 */
export async function writeIdentity(dataDir: string, identity: NodeIdentity): Promise<void> {
  const path = join(dataDir, IDENTITY_FILE);
  const tmp = `${path}.${crypto.randomUUID()}.tmp`;
  const file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o644 });
  try {
    await file.write(new TextEncoder().encode(JSON.stringify(identity, null, 2) + "\n"));
    await file.sync();
  } finally {
    file.close();
  }
  try {
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/**
 * The founding members as `NodeIdentity.founders` keeps them.
 *
 * @example
 * ```ts
 * import { foundersRecord } from "./node_identity.ts";
 * const f = foundersRecord(new Map([[1, "http://a:7101"]]), new Map([[1, "http://a:7001"]]));
 * console.log(f.peers["1"]); // "http://a:7101"
 * ```
 */
export function foundersRecord(
  peers: ReadonlyMap<NodeId, string>,
  clientUrls: ReadonlyMap<NodeId, string>,
): NonNullable<NodeIdentity["founders"]> {
  return {
    peers: Object.fromEntries([...peers].map(([id, url]) => [String(id), url])),
    clientUrls: Object.fromEntries([...clientUrls].map(([id, url]) => [String(id), url])),
  };
}

function peerLines(peers: ReadonlyMap<NodeId, string>): string {
  return [...peers].sort(([a], [b]) => a - b).map(([id, url]) => `${id}=${url}`).join("\n");
}

/**
 * The id of a cluster founded by `peers`: every founder computes the same from the same
 * `--peers`, in any order, without talking to the others.
 *
 * @example
 * ```ts
 * import { foundingClusterId } from "./node_identity.ts";
 * const a = await foundingClusterId(new Map([[1, "http://a:1"], [2, "http://b:2"]]));
 * const b = await foundingClusterId(new Map([[2, "http://b:2"], [1, "http://a:1"]]));
 * console.log(a === b, a.startsWith("c-")); // true true
 * ```
 */
export async function foundingClusterId(peers: ReadonlyMap<NodeId, string>): Promise<string> {
  const hex = await sha256Hex(new TextEncoder().encode(peerLines(peers)));
  return `c-${hex.slice(0, 16)}`;
}

/**
 * The id of a cluster restored from a backup by `peers`: derived from the peers and the
 * backup's SHA-256, so that it differs from the old cluster's and from another restore of
 * the same backup by other members, and every founder computes the same.
 *
 * @example
 * ```ts
 * import { restoredClusterId } from "./node_identity.ts";
 * const id = await restoredClusterId(new Map([[1, "http://a:1"]]), "ab12");
 * console.log(id.startsWith("c-")); // true
 * ```
 */
export async function restoredClusterId(
  peers: ReadonlyMap<NodeId, string>,
  backupSha256: string,
): Promise<string> {
  const text = `${peerLines(peers)}\nrestored-from=${backupSha256}`;
  const hex = await sha256Hex(new TextEncoder().encode(text));
  return `c-${hex.slice(0, 16)}`;
}
