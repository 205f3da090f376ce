/**
 * Control over Deno KV commits in a test: hold the first one until released (so that later
 * calls queue up behind a running write), count them, and fail chosen ones.
 *
 * @module
 */

/**
 * A patch of `Deno.AtomicOperation.prototype.commit`, active until `restore()`.
 *
 * @example
 * ```ts ignore
 * import { gateCommits } from "./kv_commit_gate.ts";
 * const gate = gateCommits();
 * try {
 *   const first = storage.append({ entries: [entry] });
 *   await gate.held; // the first commit is running: later appends wait behind it
 *   gate.release();
 *   await first;
 * } finally {
 *   gate.restore();
 * }
 * ```
 */
export interface CommitGate {
  /** Resolves once the first commit was called; it does not go through until `release()`. */
  readonly held: Promise<void>;
  /** Lets the held commit, and every later one, through. */
  release(): void;
  /** Commits called so far (the held one included). */
  readonly commits: number;
  /** Puts the original `commit` back. */
  restore(): void;
}

/**
 * Patches every KV commit: the first is held until `release()`, and commit number `n` (from 1)
 * rejects with `new Error("simulated failure")` when `fail(n)` says so.
 *
 * @example
 * ```ts ignore
 * import { gateCommits } from "./kv_commit_gate.ts";
 * const gate = gateCommits({ fail: (n) => n === 2 }); // the second commit fails
 * gate.restore();
 * ```
 */
export function gateCommits(options: { fail?: (n: number) => boolean } = {}): CommitGate {
  const prototype = Deno.AtomicOperation.prototype;
  const original = prototype.commit;
  let commits = 0;
  let release!: () => void;
  const released = new Promise<void>((resolve) => release = resolve);
  let held!: () => void;
  const heldPromise = new Promise<void>((resolve) => held = resolve);
  prototype.commit = async function (this: Deno.AtomicOperation) {
    const n = ++commits;
    if (n === 1) {
      held();
      await released;
    }
    if (options.fail?.(n)) throw new Error("simulated failure");
    return await original.call(this);
  };
  return {
    held: heldPromise,
    release,
    get commits() {
      return commits;
    },
    restore() {
      release();
      prototype.commit = original;
    },
  };
}
