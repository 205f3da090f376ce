/**
 * Exactly-once application of retried commands (Raft thesis, section 6.3).
 *
 * A client session (`clientId`) remembers its last sequence number and the answer to it: the
 * same `seq` again gets that answer without applying anything, a lower one is stale. An
 * `idempotencyKey` remembers the first answer given under it.
 *
 * Sessions and keys belong to the envelope's `principal` (the API token's identity): two
 * principals never see each other's. Each remembers the `fingerprint` of the request that
 * made it, and the same key or (id, seq) with a different fingerprint is refused
 * (`key_reused`, `seq_reused`): it is another request, and answering it with the first one's
 * answer would report something that never happened to it.
 *
 * A lock acquire that waits in line is first answered "queued"; the answer a retry gets is the
 * wait's outcome once there is one (`settle`): the grant, or the refusal when the wait timed
 * out. A wait withdrawn because its client went away (`withdraw`) leaves no answer behind: a
 * retry after that is applied afresh, never told about a wait it no longer has. Which of the
 * requests answered with a wait are still there, and so whether it may be withdrawn, is the
 * lock table's business (its attempts): their set lives exactly as long as the wait, whereas a
 * record here may be dropped (idle, or beyond the cap) while the wait goes on.
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
import type { CommandResult, Failure } from "./results.ts";

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

/**
 * Sessions in a snapshot, least recently used first:
 * `[principal, clientId, seq, result, lastSeen, fingerprint, waiterId]` and
 * `[principal, key, result, lastSeen, fingerprint, waiterId]`. `result` is null for a
 * withdrawn wait, `fingerprint` null when the request carried none, `waiterId` 0 when the
 * answer is no lock wait. (Snapshot format 2 ended each tuple with one more number, the last
 * entry answered with it, which nothing reads any more.)
 */
export type SessionsSnapshot = [
  clients: [string, string, number, CommandResult | null, number, string | null, number][],
  keys: [string, string, CommandResult | null, number, string | null, number][],
];

/**
 * What the tables say about an envelope before it is applied: `undefined` (apply it), or the
 * answer it gets instead. `duplicate` is true only for a replayed first answer: a refusal
 * (`stale_sequence`, a key or sequence reused for another request) is no replay.
 *
 * @example
 * ```ts
 * import type { SessionAnswer } from "./sessions.ts";
 * const a: SessionAnswer = { result: { ok: true }, duplicate: true };
 * ```
 */
export type SessionAnswer = { result: CommandResult; duplicate: boolean } | undefined;

interface SessionRecord {
  principal: string;
  /** The client id or the idempotency key. */
  id: string;
  /** Client sessions only; 0 for keys. */
  seq: number;
  /** null: the wait this answered was withdrawn, and a retry applies afresh. */
  result: CommandResult | null;
  lastSeen: number;
  fingerprint: string | null;
  /** The lock wait (or immediate grant) the answer is about; 0 when none. */
  waiterId: number;
}

/** A map key that keeps principals apart: the length prefix makes it unambiguous. */
function scoped(principal: string, id: string): string {
  return `${principal.length}:${principal}${id}`;
}

/** Moves `record` to the end of `map` (most recently used); `now` never decreases, so the map
 * stays ordered by `lastSeen` and the idle ones are always at the front. */
function touch(map: Map<string, SessionRecord>, id: string, record: SessionRecord) {
  map.delete(id);
  map.set(id, record);
}

/** The wait an acquire's answer is about: its waiter id, or an immediate grant's token. */
function waitOf(result: CommandResult): number {
  if (!result.ok || !("queued" in result)) return 0;
  return result.queued ? result.waiterId : result.token;
}

function isQueued(result: CommandResult | null): boolean {
  return result !== null && result.ok && "queued" in result && result.queued;
}

/** Different requests: both carry a fingerprint and they differ. A record or an envelope
 * without one (older log entries, internal commands) matches anything, as before. */
function mismatch(recorded: string | null, fingerprint: string | undefined): boolean {
  return recorded !== null && fingerprint !== undefined && recorded !== fingerprint;
}

function isRefusal(result: CommandResult): boolean {
  return !result.ok &&
    (result.reason === "stale_sequence" || result.reason === "key_reused" ||
      result.reason === "seq_reused");
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
 * s.answer(env); // { result: { ok: true }, duplicate: true }: the first answer
 * ```
 */
export class Sessions {
  readonly limits: SessionLimits;
  #clients = new Map<string, SessionRecord>();
  #keys = new Map<string, SessionRecord>();
  /** Records by the lock wait they answered, to settle or withdraw them with it. */
  #waits = new Map<number, SessionRecord[]>();

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
   * The answer an envelope gets without being applied: the cached first answer to a retry,
   * `stale_sequence`, or the refusal of a key or (id, seq) reused for a different request;
   * `undefined` when it must be applied.
   */
  answer(envelope: Envelope): SessionAnswer {
    const { clientId, seq, idempotencyKey, fingerprint } = envelope;
    const principal = envelope.principal ?? "";
    if (clientId !== undefined && seq !== undefined) {
      const client = this.#clients.get(scoped(principal, clientId));
      if (client !== undefined && seq < client.seq) {
        const result: Failure = {
          ok: false,
          reason: "stale_sequence",
          clientId,
          seq,
          lastSeq: client.seq,
        };
        // Refused, not replayed: no "Idempotent-Replayed" on an answer that was never given.
        return { result, duplicate: false };
      }
      if (client !== undefined && seq === client.seq) {
        if (mismatch(client.fingerprint, fingerprint)) {
          return { result: { ok: false, reason: "seq_reused", clientId, seq }, duplicate: false };
        }
        if (client.result !== null) return { result: client.result, duplicate: true };
      }
    }
    if (idempotencyKey !== undefined) {
      const key = this.#keys.get(scoped(principal, idempotencyKey));
      if (key !== undefined && mismatch(key.fingerprint, fingerprint)) {
        return { result: { ok: false, reason: "key_reused", idempotencyKey }, duplicate: false };
      }
      if (key?.result != null) return { result: key.result, duplicate: true };
    }
    return undefined;
  }

  /**
   * Records the answer an envelope got (applied or cached), at log time `now`. Refusals
   * (`stale_sequence`, `key_reused`, `seq_reused`) leave no trace.
   */
  remember(envelope: Envelope, result: CommandResult, now: number): void {
    const { clientId, seq, idempotencyKey } = envelope;
    if (isRefusal(result)) return;
    deepFreeze(result);
    const principal = envelope.principal ?? "";
    const fingerprint = envelope.fingerprint ?? null;
    const clientId_ = clientId !== undefined && seq !== undefined
      ? scoped(principal, clientId)
      : undefined;
    const keyId = idempotencyKey !== undefined ? scoped(principal, idempotencyKey) : undefined;
    const client = clientId_ === undefined ? undefined : this.#clients.get(clientId_);
    const key = keyId === undefined ? undefined : this.#keys.get(keyId);
    // Which record answered (as `answer` chose it), so a replay keeps the wait it is about.
    const clientReplay = client !== undefined && client.seq === seq && client.result !== null;
    const keyReplay = !clientReplay && key?.result != null;
    const waiterId = clientReplay ? client.waiterId : keyReplay ? key!.waiterId : waitOf(result);

    if (clientId_ !== undefined) {
      if (clientReplay) {
        client.lastSeen = now;
        touch(this.#clients, clientId_, client);
      } else {
        if (client !== undefined) this.#unindex(client);
        const record: SessionRecord = {
          principal,
          id: clientId!,
          seq: seq!,
          result,
          lastSeen: now,
          // A withdrawn wait's record keeps the fingerprint of the request that made it.
          fingerprint: client !== undefined && client.seq === seq
            ? client.fingerprint ?? fingerprint
            : fingerprint,
          waiterId,
        };
        touch(this.#clients, clientId_, record);
        this.#index(record);
      }
    }
    if (keyId !== undefined) {
      if (key?.result != null) {
        key.lastSeen = now;
        touch(this.#keys, keyId, key);
      } else {
        if (key !== undefined) this.#unindex(key);
        const record: SessionRecord = {
          principal,
          id: idempotencyKey!,
          seq: 0,
          result,
          lastSeen: now,
          fingerprint: key?.fingerprint ?? fingerprint,
          waiterId,
        };
        touch(this.#keys, keyId, record);
        this.#index(record);
      }
    }
    this.expire(now);
  }

  /**
   * A wait ended (granted or timed out): the requests that were answered "queued" for it are
   * now answered `result` on a retry.
   */
  settle(waiterId: number, result: CommandResult): void {
    const records = this.#waits.get(waiterId);
    if (records === undefined) return;
    deepFreeze(result);
    for (const record of records) {
      if (isQueued(record.result)) record.result = result;
    }
  }

  /** The wait was withdrawn: a retry of the requests that made it is applied afresh. */
  withdraw(waiterId: number): void {
    for (const record of this.#waits.get(waiterId) ?? []) {
      record.result = null;
      record.waiterId = 0;
    }
    this.#waits.delete(waiterId);
  }

  /** Forgets sessions and keys idle for `idleMs` at log time `now`, and any beyond the caps. */
  expire(now: number): void {
    const idleBefore = now - this.limits.idleMs;
    this.#trim(this.#clients, idleBefore, this.limits.maxSessions);
    this.#trim(this.#keys, idleBefore, this.limits.maxIdempotencyKeys);
  }

  #trim(map: Map<string, SessionRecord>, idleBefore: number, max: number): void {
    for (const [id, record] of map) {
      if (record.lastSeen > idleBefore && map.size <= max) break;
      map.delete(id);
      this.#unindex(record);
    }
  }

  #index(record: SessionRecord): void {
    if (record.waiterId === 0) return;
    const records = this.#waits.get(record.waiterId);
    if (records === undefined) this.#waits.set(record.waiterId, [record]);
    else records.push(record);
  }

  #unindex(record: SessionRecord): void {
    if (record.waiterId === 0) return;
    const records = this.#waits.get(record.waiterId);
    if (records === undefined) return;
    const rest = records.filter((r) => r !== record);
    if (rest.length === 0) this.#waits.delete(record.waiterId);
    else this.#waits.set(record.waiterId, rest);
  }

  /** The tables as plain data, least recently used first. */
  toSnapshot(): SessionsSnapshot {
    return [
      [...this.#clients.values()].map((
        r,
      ) => [r.principal, r.id, r.seq, r.result, r.lastSeen, r.fingerprint, r.waiterId]),
      [...this.#keys.values()].map((
        r,
      ) => [r.principal, r.id, r.result, r.lastSeen, r.fingerprint, r.waiterId]),
    ];
  }

  /**
   * Rebuilds the tables from `toSnapshot()`'s data. Tuples of snapshot format 1 (before
   * principals and fingerprints: `[clientId, seq, result, lastSeen]`, `[key, result,
   * lastSeen]`) are read as the open API's, without fingerprints; those of format 2 end with a
   * number more, which is left out.
   */
  static fromSnapshot(limits: SessionLimits, [clients, keys]: SessionsSnapshot): Sessions {
    const sessions = new Sessions(limits);
    const add = (map: Map<string, SessionRecord>, record: SessionRecord) => {
      if (record.result !== null) deepFreeze(record.result);
      map.set(scoped(record.principal, record.id), record);
      sessions.#index(record);
    };
    for (const tuple of clients as unknown[][]) {
      if (tuple.length === 4) {
        const [id, seq, result, lastSeen] = tuple as [string, number, CommandResult, number];
        const waiterId = waitOf(result);
        add(sessions.#clients, {
          principal: "",
          id,
          seq,
          result,
          lastSeen,
          fingerprint: null,
          waiterId,
        });
        continue;
      }
      const [principal, id, seq, result, lastSeen, fingerprint, waiterId] =
        tuple as SessionsSnapshot[0][number];
      add(sessions.#clients, { principal, id, seq, result, lastSeen, fingerprint, waiterId });
    }
    for (const tuple of keys as unknown[][]) {
      if (tuple.length === 3) {
        const [id, result, lastSeen] = tuple as [string, CommandResult, number];
        const waiterId = waitOf(result);
        add(sessions.#keys, {
          principal: "",
          id,
          seq: 0,
          result,
          lastSeen,
          fingerprint: null,
          waiterId,
        });
        continue;
      }
      const [principal, id, result, lastSeen, fingerprint, waiterId] =
        tuple as SessionsSnapshot[1][number];
      add(sessions.#keys, { principal, id, seq: 0, result, lastSeen, fingerprint, waiterId });
    }
    return sessions;
  }
}
