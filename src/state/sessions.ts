/**
 * Exactly-once application of retried commands (Raft thesis, section 6.3).
 *
 * A client session (`clientId`) remembers its last sequence number and the answer to it: the
 * same `seq` again gets that answer without applying anything, a lower one is stale. An
 * `idempotencyKey` remembers the first answer given under it.
 *
 * Both tables are bounded the same way on every node, by log time only: an entry idle for
 * `idleMs` is dropped, and beyond `maxSessions` / `maxIdempotencyKeys` the least recently used
 * goes first. A retry that arrives after its entry was dropped is applied again: clients must
 * not retry for longer than `idleMs`.
 *
 * @module
 */

import type { Envelope } from "./commands.ts";
import { deepFreeze } from "./json_value.ts";
import type { CommandResult } from "./results.ts";

/**
 * How long and how many sessions and idempotency keys are remembered.
 *
 * @example
 * ```ts
 * import type { SessionLimits } from "./sessions.ts";
 * const l: SessionLimits = { idleMs: 3_600_000, maxSessions: 10_000, maxIdempotencyKeys: 10_000 };
 * ```
 */
export interface SessionLimits {
  idleMs: number;
  maxSessions: number;
  maxIdempotencyKeys: number;
}

/** Sessions in a snapshot: [clientId, seq, result, lastSeen] and [key, result, lastSeen]. */
export type SessionsSnapshot = [
  clients: [string, number, CommandResult, number][],
  keys: [string, CommandResult, number][],
];

interface ClientRecord {
  seq: number;
  result: CommandResult;
  lastSeen: number;
}

interface KeyRecord {
  result: CommandResult;
  lastSeen: number;
}

/** Moves `id` to the end of `map` (most recently used); `now` never decreases, so the map
 * stays ordered by `lastSeen` and the idle ones are always at the front. */
function touch<T extends { lastSeen: number }>(map: Map<string, T>, id: string, record: T) {
  map.delete(id);
  map.set(id, record);
}

function trim<T extends { lastSeen: number }>(
  map: Map<string, T>,
  idleBefore: number,
  max: number,
) {
  for (const [id, record] of map) {
    if (record.lastSeen > idleBefore && map.size <= max) break;
    map.delete(id);
  }
}

/**
 * The exactly-once tables.
 *
 * @example
 * ```ts
 * import { Sessions } from "./sessions.ts";
 * const s = new Sessions({ idleMs: 3_600_000, maxSessions: 10, maxIdempotencyKeys: 10 });
 * const env = { cmd: { op: "tick" as const }, time: 0, clientId: "c", seq: 1 };
 * s.answer(env); // undefined: apply it
 * s.remember(env, { ok: true }, 0);
 * s.answer(env); // { ok: true }: the first answer
 * ```
 */
export class Sessions {
  readonly limits: SessionLimits;
  #clients = new Map<string, ClientRecord>();
  #keys = new Map<string, KeyRecord>();

  constructor(limits: SessionLimits) {
    for (const [name, value] of Object.entries(limits)) {
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new RangeError(`${name} must be an integer >= 1, got ${value}`);
      }
    }
    this.limits = { ...limits };
  }

  /** How many client sessions and idempotency keys are remembered. */
  get size(): { clients: number; keys: number } {
    return { clients: this.#clients.size, keys: this.#keys.size };
  }

  /**
   * The answer an envelope gets without being applied: the cached first answer to a retry, or
   * `stale_sequence`; `undefined` when it must be applied.
   */
  answer(envelope: Envelope): CommandResult | undefined {
    const { clientId, seq, idempotencyKey } = envelope;
    if (clientId !== undefined && seq !== undefined) {
      const client = this.#clients.get(clientId);
      if (client !== undefined && seq < client.seq) {
        return { ok: false, reason: "stale_sequence", clientId, seq, lastSeq: client.seq };
      }
      if (client !== undefined && seq === client.seq) return client.result;
    }
    if (idempotencyKey !== undefined) return this.#keys.get(idempotencyKey)?.result;
    return undefined;
  }

  /** Records the answer an envelope got (applied or cached), at log time `now`. */
  remember(envelope: Envelope, result: CommandResult, now: number): void {
    const { clientId, seq, idempotencyKey } = envelope;
    if (result.ok === false && result.reason === "stale_sequence") return;
    deepFreeze(result);
    if (clientId !== undefined && seq !== undefined) {
      touch(this.#clients, clientId, { seq, result, lastSeen: now });
    }
    if (idempotencyKey !== undefined) {
      const first = this.#keys.get(idempotencyKey)?.result ?? result;
      touch(this.#keys, idempotencyKey, { result: first, lastSeen: now });
    }
    this.expire(now);
  }

  /** Forgets sessions and keys idle for `idleMs` at log time `now`, and any beyond the caps. */
  expire(now: number): void {
    const idleBefore = now - this.limits.idleMs;
    trim(this.#clients, idleBefore, this.limits.maxSessions);
    trim(this.#keys, idleBefore, this.limits.maxIdempotencyKeys);
  }

  /** The tables as plain data, least recently used first. */
  toSnapshot(): SessionsSnapshot {
    return [
      [...this.#clients].map(([id, r]) => [id, r.seq, r.result, r.lastSeen]),
      [...this.#keys].map(([key, r]) => [key, r.result, r.lastSeen]),
    ];
  }

  /** Rebuilds the tables from `toSnapshot()`'s data. */
  static fromSnapshot(limits: SessionLimits, [clients, keys]: SessionsSnapshot): Sessions {
    const sessions = new Sessions(limits);
    for (const [id, seq, result, lastSeen] of clients) {
      sessions.#clients.set(id, { seq, result: deepFreeze(result), lastSeen });
    }
    for (const [key, result, lastSeen] of keys) {
      sessions.#keys.set(key, { result: deepFreeze(result), lastSeen });
    }
    return sessions;
  }
}
