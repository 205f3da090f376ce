/**
 * Fitting writes into Deno KV's per-commit limits. Every `commit()` costs one fsync, so callers
 * hand over all the mutations of one logical write and get back as few commits as the limits
 * allow, in the original order (callers rely on that order for crash safety).
 *
 * Limits measured on Deno 2.9.6 (docs/architecture.md#storage-in-deno-kv): a value holds at
 * most 65536 bytes; a commit holds at most 1000 mutations and 819200 bytes, where a `set` counts
 * its value plus twice its encoded key and a `delete` counts its key once.
 *
 * @module
 */

/**
 * The largest value Deno KV stores.
 *
 * @example
 * ```ts
 * import { KV_MAX_VALUE_BYTES } from "./kv_commits.ts";
 * const chunks = Math.ceil(1_000_000 / KV_MAX_VALUE_BYTES); // 16
 * ```
 */
export const KV_MAX_VALUE_BYTES = 65536;
/**
 * The most mutations one `atomic()` may carry.
 *
 * @example
 * ```ts
 * import { KV_MAX_MUTATIONS } from "./kv_commits.ts";
 * const commits = Math.ceil(2500 / KV_MAX_MUTATIONS); // 3
 * ```
 */
export const KV_MAX_MUTATIONS = 1000;
/**
 * The most bytes one `atomic()` may carry (see `mutationCost`).
 *
 * @example
 * ```ts
 * import { KV_MAX_COMMIT_BYTES } from "./kv_commits.ts";
 * const fits = 500_000 < KV_MAX_COMMIT_BYTES; // true
 * ```
 */
export const KV_MAX_COMMIT_BYTES = 819200;

/**
 * One write inside an atomic commit.
 *
 * @example
 * ```ts
 * import type { KvMutation } from "./kv_commits.ts";
 * const m: KvMutation = { type: "set", key: ["log", 0, 1, 0], value: new Uint8Array(10) };
 * ```
 */
export type KvMutation =
  | { type: "set"; key: Deno.KvKey; value: Uint8Array }
  | { type: "delete"; key: Deno.KvKey };

/**
 * Room a caller keeps free in every commit for something it adds to each (e.g. the hard state).
 *
 * @example
 * ```ts
 * import type { CommitReserve } from "./kv_commits.ts";
 * const reserve: CommitReserve = { mutations: 1, bytes: 256 };
 * ```
 */
export interface CommitReserve {
  /** Mutations to leave free. */
  mutations: number;
  /** Bytes (as `mutationCost` counts them) to leave free. */
  bytes: number;
}

const NO_RESERVE: CommitReserve = { mutations: 0, bytes: 0 };
/** Slack for our estimate of the key encoding (escaping of NUL bytes in strings). */
const SAFETY_BYTES = 1024;

/**
 * What a mutation counts against `KV_MAX_COMMIT_BYTES`, rounded up.
 *
 * @example
 * ```ts
 * import { mutationCost } from "./kv_commits.ts";
 * mutationCost({ type: "delete", key: ["a"] }); // 3
 * ```
 */
export function mutationCost(mutation: KvMutation): number {
  const keyBytes = encodedKeyBytes(mutation.key);
  return mutation.type === "set" ? mutation.value.byteLength + 2 * keyBytes : keyBytes;
}

/**
 * Splits mutations, in order, into the fewest consecutive groups that each fit one commit with
 * `reserve` left free. Throws `RangeError` for a value over `KV_MAX_VALUE_BYTES`.
 *
 * @example
 * ```ts
 * import { splitIntoCommits } from "./kv_commits.ts";
 * const deletes = Array.from({ length: 1500 }, (_, i) => ({
 *   type: "delete" as const,
 *   key: ["k", i],
 * }));
 * splitIntoCommits(deletes).length; // 2
 * ```
 */
export function splitIntoCommits(
  mutations: KvMutation[],
  reserve: CommitReserve = NO_RESERVE,
): KvMutation[][] {
  const maxMutations = KV_MAX_MUTATIONS - reserve.mutations;
  const maxBytes = KV_MAX_COMMIT_BYTES - reserve.bytes - SAFETY_BYTES;
  const commits: KvMutation[][] = [];
  let current: KvMutation[] = [];
  let bytes = 0;
  for (const mutation of mutations) {
    if (mutation.type === "set" && mutation.value.byteLength > KV_MAX_VALUE_BYTES) {
      throw new RangeError(`a value of ${mutation.value.byteLength} bytes exceeds the KV limit`);
    }
    const cost = mutationCost(mutation);
    if (current.length > 0 && (current.length >= maxMutations || bytes + cost > maxBytes)) {
      commits.push(current);
      current = [];
      bytes = 0;
    }
    current.push(mutation);
    bytes += cost;
  }
  if (current.length > 0) commits.push(current);
  return commits;
}

/**
 * Commits one group of mutations atomically (one fsync).
 *
 * @example
 * ```ts
 * import { commitAtomically } from "./kv_commits.ts";
 * const kv = await Deno.openKv(":memory:");
 * await commitAtomically(kv, [{ type: "set", key: ["a"], value: new Uint8Array([1]) }]);
 * kv.close();
 * ```
 */
export async function commitAtomically(kv: Deno.Kv, mutations: KvMutation[]): Promise<void> {
  const op = kv.atomic();
  for (const m of mutations) {
    if (m.type === "set") op.set(m.key, m.value);
    else op.delete(m.key);
  }
  const result = await op.commit();
  // There are no checks in the operation, so a refusal means the KV is not what we think it is.
  if (!result.ok) throw new Error("Deno KV refused an atomic commit without checks");
}

/**
 * Commits `mutations` in as few atomic commits as the limits allow, in order.
 *
 * @example
 * ```ts
 * import { commitInBatches } from "./kv_commits.ts";
 * const kv = await Deno.openKv(":memory:");
 * await commitInBatches(kv, [{ type: "delete", key: ["gone"] }]);
 * kv.close();
 * ```
 */
export async function commitInBatches(kv: Deno.Kv, mutations: KvMutation[]): Promise<void> {
  for (const group of splitIntoCommits(mutations)) await commitAtomically(kv, group);
}

/** Deno KV's key encoding: a tag byte per part, strings NUL-terminated, numbers as 8 bytes. */
function encodedKeyBytes(key: Deno.KvKey): number {
  let bytes = 0;
  for (const part of key) {
    if (typeof part === "number") bytes += 9;
    else if (typeof part === "string") bytes += 2 + new TextEncoder().encode(part).byteLength;
    else if (part instanceof Uint8Array) bytes += 2 + part.byteLength;
    else if (typeof part === "bigint") bytes += 2 + 16;
    else bytes += 1;
  }
  return bytes;
}
