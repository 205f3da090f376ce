/**
 * Keeping a lease: renewals every third of its ttl, and a signal aborted before the lease can
 * no longer be trusted. `withLock` and the command line's `run-locked` both hold their locks
 * with it.
 *
 * Trust is counted on this process's monotonic clock from when each acquire or renew was
 * sent (the server counts from when it applied it, later), and only 99% of the ttl is trusted:
 * the server's clock may run up to 1% faster. A paused process (stopped, swapped out, a long
 * GC) wakes past its trust: the keeper aborts then rather than renewing, because another
 * holder may have had the lock meanwhile.
 *
 * @module
 */

import type { EdgeraftClient, Lease } from "./edgeraft_client.ts";
import { ConflictError } from "./errors.ts";

/** The share of the ttl a holder trusts, after clock drift (the server's MAX_DRIFT, 1%). */
const TRUSTED_SHARE = 0.99;

/**
 * How a {@linkcode LeaseKeeper} holds a lease.
 *
 * @example
 * ```ts
 * import type { LeaseKeeperOptions } from "./lease_keeper.ts";
 * const o: LeaseKeeperOptions = { sentAt: performance.now(), marginMs: 1_000 };
 * ```
 */
export interface LeaseKeeperOptions {
  /** `performance.now()` when the acquire was sent: trust counts from there. */
  sentAt: number;
  /**
   * How long before trust ends `signal` aborts, so that the work can stop while the lease still
   * holds. Default a tenth of the ttl, at most 1 s; never more than a third of the ttl.
   */
  marginMs?: number;
  /** Called once when the lease is lost, with the reason (also `signal.reason`). */
  onLost?: (reason: Error) => void;
}

/**
 * Renews a lease until stopped; `signal` aborts when it can no longer be trusted.
 *
 * @example
 * ```ts ignore
 * import { LeaseKeeper } from "./lease_keeper.ts";
 * const sentAt = performance.now();
 * const lease = await client.acquire("cron", { ttlMs: 10_000 });
 * const keeper = new LeaseKeeper(client, lease, { sentAt });
 * try {
 *   await work(lease.token, keeper.signal);
 * } finally {
 *   keeper.stop();
 *   await client.release("cron", lease.token);
 * }
 * ```
 */
export class LeaseKeeper {
  readonly #client: EdgeraftClient;
  readonly #lease: Lease;
  readonly #lost = new AbortController();
  readonly #marginMs: number;
  readonly #onLost?: (reason: Error) => void;
  #trustedUntil: number;
  #renewTimer: ReturnType<typeof setTimeout> | undefined;
  #expiryTimer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  /** Renewals that succeeded. */
  renewals = 0;

  constructor(client: EdgeraftClient, lease: Lease, options: LeaseKeeperOptions) {
    this.#client = client;
    this.#lease = lease;
    this.#onLost = options.onLost;
    const ttl = lease.ttlMs;
    this.#marginMs = Math.min(options.marginMs ?? Math.min(ttl / 10, 1_000), ttl / 3);
    this.#trustedUntil = options.sentAt + ttl * TRUSTED_SHARE;
    this.#armExpiry();
    this.#scheduleRenew(options.sentAt);
  }

  /** Aborted (with the reason as an Error) before the lease can no longer be trusted. */
  get signal(): AbortSignal {
    return this.#lost.signal;
  }

  /** `performance.now()` until which the lease is trusted (the signal aborts a margin before). */
  get trustedUntil(): number {
    return this.#trustedUntil;
  }

  /** Stops renewing (the caller releases the lock). */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#renewTimer);
    clearTimeout(this.#expiryTimer);
  }

  #lose(reason: Error): void {
    if (this.#lost.signal.aborted) return;
    this.stop();
    this.#lost.abort(reason);
    this.#onLost?.(reason);
  }

  /** The abort deadline: a margin before trust ends. */
  #abortAt(): number {
    return this.#trustedUntil - this.#marginMs;
  }

  #armExpiry(): void {
    clearTimeout(this.#expiryTimer);
    const ms = Math.max(0, this.#abortAt() - performance.now());
    this.#expiryTimer = setTimeout(() => {
      // A timer can fire early on some runtimes' clocks; check against the monotonic clock.
      if (performance.now() >= this.#abortAt()) {
        this.#lose(new Error(`the lease of ${this.#lease.name} ran out before a renewal came`));
      } else this.#armExpiry();
    }, ms);
  }

  /** The next renewal a third of the ttl after `from` (when the last one was sent). */
  #scheduleRenew(from: number): void {
    if (this.#stopped) return;
    const ms = Math.max(0, from + this.#lease.ttlMs / 3 - performance.now());
    this.#renewTimer = setTimeout(() => void this.#renew(), ms);
  }

  async #renew(): Promise<void> {
    const sentAt = performance.now();
    // Woken past the abort deadline (a paused process): someone else may hold it by now.
    if (sentAt >= this.#abortAt()) {
      this.#lose(new Error(`the lease of ${this.#lease.name} ran out before a renewal was sent`));
      return;
    }
    try {
      // Past its trust a renewal's answer is of no use: another holder may have come between.
      const timeoutMs = Math.max(1, this.#trustedUntil - sentAt);
      await this.#client.renew(this.#lease.name, this.#lease.token, { timeoutMs });
      if (this.#stopped) return;
      this.renewals++;
      this.#trustedUntil = sentAt + this.#lease.ttlMs * TRUSTED_SHARE;
      this.#armExpiry();
      this.#scheduleRenew(sentAt);
    } catch (error) {
      if (this.#stopped) return;
      if (error instanceof ConflictError) {
        this.#lose(new Error(`the lock ${this.#lease.name} is no longer held: ${error.message}`));
        return;
      }
      // Unreachable for now: try again soon; the expiry timer aborts if nothing succeeds.
      this.#renewTimer = setTimeout(() => void this.#renew(), Math.min(250, this.#marginMs));
    }
  }
}
