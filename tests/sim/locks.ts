/**
 * Lock safety, by the clients' own reckoning (docs/api.md): a client counts its lease from when
 * it sent the acquire (or renew) and trusts `ttlMs * 0.99` of it, less a 1 ms margin, on its
 * own drifting clock (any two clocks within 1 % of each other). Two clients' trusted intervals for one lock, in true virtual time, must never
 * overlap, and a newly trusted grant's fencing token must exceed every other token trusted
 * before on that lock.
 *
 * @module
 */

/** Thrown at the first breach of lock safety. */
export class LockViolation extends Error {
  override name = "LockViolation";
  readonly property = "lock safety";
}

interface Trusted {
  client: number;
  token: number;
  start: number;
  end: number;
}

/** Records the intervals clients trust their grants for, and checks them as they start. */
export class LockChecker {
  readonly #byName = new Map<string, Trusted[]>();
  /** Intervals trusted (grants and renewals). */
  trusted = 0;

  /**
   * Client `client` trusts `token` on `name` from `start` (now) to `end` (true virtual ms).
   * Returns the record so a release can cut it short; undefined if it is already over.
   */
  trust(
    name: string,
    client: number,
    token: number,
    start: number,
    end: number,
  ): Trusted | undefined {
    if (end <= start) return undefined;
    const list = this.#byName.get(name) ?? [];
    this.#byName.set(name, list);
    for (const other of list) {
      if (other.token === token) continue;
      if (other.start < end && start < other.end) {
        throw new LockViolation(
          `lock safety: ${name} trusted by client ${other.client} (token ${other.token}) over ` +
            `[${other.start}, ${other.end}) and by client ${client} (token ${token}) from ${start}`,
        );
      }
      if (other.token > token) {
        throw new LockViolation(
          `lock safety: ${name} token ${token} (client ${client}) trusted at ${start} after ` +
            `token ${other.token} (client ${other.client})`,
        );
      }
    }
    const t = { client, token, start, end };
    list.push(t);
    this.trusted++;
    return t;
  }

  /** The client stops trusting `t`'s token at `at` (it sent a release), renewals included. */
  stop(name: string, t: Trusted | undefined, at: number): void {
    if (!t) return;
    for (const other of this.#byName.get(name) ?? []) {
      if (other.client === t.client && other.token === t.token) {
        other.end = Math.min(other.end, at);
      }
    }
  }
}
