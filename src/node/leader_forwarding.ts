/**
 * A follower's forwarded writes follow the leader (issue 18). A follower used to send a write
 * to the leader it knew and wait out the request timeout (5 s) for the answer, even when that
 * leader was frozen and a new one had been elected 300 ms later. Here a forwarded write is
 * re-sent to whoever leads now whenever the leader changes, or the call fails with a
 * connection error, a 503 (not the leader) or a 504 (the leader lost it), and it gives up with
 * a definite answer once the leader has been in doubt for longer than an election can take.
 *
 * Re-sending is safe only because every forwarded submission carries what makes a retry
 * recognisable to the state machine (src/state/sessions.ts): the client's `Idempotency-Key`
 * (fingerprinted by the API, so a different request under the same key is refused, not
 * answered) or its session (`clientId` + `seq`). Whichever copy comes first in the log is
 * applied; every later copy gets that first answer without applying anything.
 *
 * @module
 */

import { decode } from "@msgpack/msgpack";
import type { NodeId } from "../raft/types.ts";
import { encodeSubmission, type Submission } from "../state/commands.ts";
import { InvalidCommandError } from "../state/errors.ts";
import type { ApplyOutcome } from "../state/results.ts";
import { CallError } from "../transport/transport.ts";
import type { NodeClock } from "./clock.ts";
import { NoLeaderError } from "./errors.ts";
import { ProposalTimeoutError } from "./pending_proposals.ts";

/**
 * What the forwarding needs of its node.
 *
 * @example
 * ```ts ignore
 * const host: ForwardingHost = {
 *   id: 2,
 *   clock: systemClock,
 *   heartbeatMs: 50,
 *   leaderId: () => node.leaderId(),
 *   electionTimeoutMaxMs: () => 300,
 *   proposeLocal: (body) => proposeHere(body),
 *   call: (leader, body, signal) => transport.call(leader, "propose", body, signal),
 * };
 * ```
 */
export interface ForwardingHost {
  /** This node's id: when it leads, the write is proposed here. */
  readonly id: NodeId;
  readonly clock: NodeClock;
  /** How often a leader heartbeats (ms): the least a round trip is taken to cost. */
  readonly heartbeatMs: number;
  /** The leader this node knows of now (0: none). */
  leaderId(): NodeId;
  /** The longest election timeout in force now (ms), back-off included. */
  electionTimeoutMaxMs(): number;
  /** Proposes a submission's bytes on this node, which leads. */
  proposeLocal(body: Uint8Array): Promise<ApplyOutcome>;
  /** Sends a submission's bytes to `leader`'s `propose` call; its answer is the outcome. */
  call(leader: NodeId, body: Uint8Array, signal: AbortSignal): Promise<Uint8Array>;
}

/** How one attempt ended, for the loop to decide what comes next. */
type Attempt =
  | { kind: "answer"; outcome: ApplyOutcome }
  /** Not proposed there (503): try again, wherever the leader is by then. */
  | { kind: "refused"; why: string }
  /** It may have been proposed there (connection lost, 504, no answer in time). */
  | { kind: "unknown"; why: string };

/** An attempt and the controller that abandons it. */
interface InFlight {
  leader: NodeId;
  done: Promise<Attempt>;
  settled?: Attempt;
  abort: AbortController;
  startedAt: number;
}

/**
 * Sends a follower's writes to the leader, following it as it changes. The node calls
 * `leaderChanged` whenever the leader it knows changes, and `forward` for each write it does
 * not lead for.
 *
 * How long a write may take: as long as the leader it went to is still the leader this node
 * knows, the write waits for its answer (a slow leader is no reason to give up; the leader
 * bounds its own wait). From the first sign of trouble (the leader lost or changed, a
 * connection error, a 503 or a 504), the write has the longest election timeout in force plus
 * two round trips to get its answer from whoever leads, which is how long an election takes
 * that succeeds at its first or second try; after that it ends with a definite answer: 503
 * when no copy of it can have been proposed, 504 (outcome unknown) when one may have been.
 *
 * @example
 * ```ts ignore
 * const forwarding = new LeaderForwarding(host);
 * // in the node: on every change of the known leader
 * forwarding.leaderChanged();
 * const outcome = await forwarding.forward(submission, encodeSubmission(submission), signal);
 * ```
 */
export class LeaderForwarding {
  readonly #host: ForwardingHost;
  /** Woken whenever the known leader changes. */
  readonly #wakers = new Set<() => void>();
  /** A smoothed forward's duration (ms): a round trip to the leader plus its commit. */
  #smoothedMs: number | undefined;

  /** Tells this run's minted keys from an earlier run's (the clock's randomness: seeded in the simulator). */
  readonly #run: string;
  #minted = 0;

  /** `host`: the node's side (see {@linkcode ForwardingHost}). */
  constructor(host: ForwardingHost) {
    this.#host = host;
    const word = () => Math.floor(host.clock.random() * 2 ** 32).toString(36);
    this.#run = word() + word();
  }

  /** The node's known leader changed: writes in flight look again where to go. */
  leaderChanged(): void {
    for (const wake of [...this.#wakers]) wake();
  }

  /**
   * A round trip to the leader as forwards measure it (ms): half a forward's smoothed duration
   * (a forward costs a round trip to the leader and one for the leader's commit), at least a
   * heartbeat interval.
   */
  rttMs(): number {
    return Math.max(this.#host.heartbeatMs, (this.#smoothedMs ?? 0) / 2);
  }

  /** How long a write may go on once its leader is in doubt (ms). */
  budgetMs(): number {
    return this.#host.electionTimeoutMaxMs() + 2 * this.rttMs();
  }

  /**
   * Forwards a submission (`body` is its encoding) to the leader, re-sending it as the leader
   * changes, and resolves with its outcome; see the class comment for when it gives up.
   * Rejects with `InvalidCommandError` (the leader refused the bytes), `NoLeaderError` (nothing
   * was proposed), `ProposalTimeoutError` (it may have been) or `signal`'s reason.
   */
  async forward(sub: Submission, body: Uint8Array, signal?: AbortSignal): Promise<ApplyOutcome> {
    // Without a key or a session, a re-sent copy would be applied a second time, so the
    // follower gives the write a key of its own. That is safe for exactly-once: the key is
    // unique (this node, a random word per run, a counter) and never leaves this call, so no
    // other request can carry it, and the
    // client, which gave none, cannot retry under it either: the only copies the state
    // machine can see under it are this call's, and it applies the first and answers the
    // rest. Its cost is one entry in the idempotency table, like any key a client sends (the
    // client package sends one with every write); a curl user's writes through a follower get
    // one, writes to the leader do not. The state machine checks keys only as names (any
    // non-empty string), so this one needs no fingerprint: no other request shares it.
    const keyed = sub.idempotencyKey !== undefined ||
      (sub.clientId !== undefined && sub.seq !== undefined);
    const minted = !keyed;
    if (minted) {
      const key = `fwd-${this.#host.id}-${this.#run}-${++this.#minted}`;
      body = encodeSubmission({ ...sub, idempotencyKey: key });
    }
    const clock = this.#host.clock;
    /** Since when the leader has been in doubt (monotonic ms). */
    let troubleSince: number | undefined;
    /** Whether a copy may have been proposed somewhere. */
    let maybeProposed = false;
    let lastWhy = "no leader is known";
    let inFlight: InFlight | undefined;
    const trouble = () => {
      troubleSince ??= clock.monotonic();
    };
    try {
      for (;;) {
        if (signal?.aborted) throw signal.reason;
        const leader = this.#host.leaderId();
        if (leader === 0 || (inFlight !== undefined && inFlight.leader !== leader)) trouble();
        const now = clock.monotonic();
        const deadline = troubleSince === undefined ? Infinity : troubleSince + this.budgetMs();
        if (now >= deadline) {
          if (maybeProposed || inFlight !== undefined) {
            throw new ProposalTimeoutError(
              `no answer from a leader within ${
                Math.round(now - troubleSince!)
              } ms (${lastWhy}); ` +
                "the write may have been applied",
            );
          }
          throw new NoLeaderError(lastWhy);
        }
        if (inFlight && inFlight.leader !== leader && leader !== 0) {
          // A new leader: the old one may be frozen, so the copy goes there. (With no leader
          // known yet the old call goes on: its leader may still answer.)
          inFlight.abort.abort();
          inFlight = undefined;
          maybeProposed = true;
          lastWhy = `the leader changed to ${leader}`;
        }
        if (!inFlight) {
          if (leader === 0) {
            lastWhy = "no leader is known";
            await this.#changed(deadline - now, signal);
            continue;
          }
          inFlight = this.#attempt(leader, body);
        }
        const current: InFlight = inFlight;
        const woke = await this.#settledOrChanged(current, deadline - now, signal);
        if (!woke) continue; // the leader changed, the deadline passed, or the signal fired
        inFlight = undefined;
        const result = current.settled!;
        if (result.kind === "answer") {
          this.#measure(clock.monotonic() - current.startedAt);
          // A copy the first one answered is a replay of this very write, not the client's
          // retry: with a key of our own the client sees it as the first answer it is.
          return minted ? { ...result.outcome, duplicate: false } : result.outcome;
        }
        trouble();
        lastWhy = result.why;
        if (result.kind === "unknown") maybeProposed = true;
        // Not straight back to the same node: wait for a new leader or a heartbeat's time.
        if (this.#host.leaderId() === current.leader) {
          const left = troubleSince! + this.budgetMs() - clock.monotonic();
          await this.#changed(Math.min(this.#host.heartbeatMs, left), signal);
        }
      }
    } finally {
      inFlight?.abort.abort();
    }
  }

  #attempt(leader: NodeId, body: Uint8Array): InFlight {
    const abort = new AbortController();
    const attempt: InFlight = {
      leader,
      abort,
      startedAt: this.#host.clock.monotonic(),
      done: Promise.resolve({ kind: "refused", why: "" }),
    };
    const run = async (): Promise<Attempt> => {
      try {
        if (leader === this.#host.id) {
          return { kind: "answer", outcome: await this.#host.proposeLocal(body) };
        }
        const reply = await this.#host.call(leader, body, abort.signal);
        return { kind: "answer", outcome: decode(reply) as ApplyOutcome };
      } catch (e) {
        if (e instanceof CallError && e.status === 400) throw new InvalidCommandError(e.message);
        if (e instanceof NoLeaderError) return { kind: "refused", why: e.message };
        if (e instanceof CallError && e.status === 503) return { kind: "refused", why: e.message };
        return { kind: "unknown", why: `the leader did not answer (${(e as Error).message})` };
      }
    };
    attempt.done = run().then((settled) => {
      attempt.settled = settled;
      return settled;
    });
    // An abandoned attempt's end is nobody's business (a 400 would come from the next one too).
    attempt.done.catch(() => {});
    return attempt;
  }

  /**
   * Waits for the attempt to settle (true; a 400 rejects), or for the leader to change, the
   * deadline to pass or `signal` to fire (false).
   */
  async #settledOrChanged(
    attempt: InFlight,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<boolean> {
    let wake!: () => void;
    const changed = new Promise<false>((resolve) => wake = () => resolve(false));
    const stop = this.#listen(wake, timeoutMs, signal);
    try {
      return await Promise.race([attempt.done.then(() => true as const), changed]);
    } finally {
      stop();
    }
  }

  /** Waits for the leader to change, at most `timeoutMs`, or until `signal` fires. */
  async #changed(timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    let wake!: () => void;
    const changed = new Promise<void>((resolve) => wake = resolve);
    const stop = this.#listen(wake, timeoutMs, signal);
    try {
      await changed;
    } finally {
      stop();
    }
  }

  /** Calls `wake` once on a leader change, after `timeoutMs`, or when `signal` fires. */
  #listen(wake: () => void, timeoutMs: number, signal: AbortSignal | undefined): () => void {
    const clock = this.#host.clock;
    this.#wakers.add(wake);
    const timer = Number.isFinite(timeoutMs)
      ? clock.setTimeout(wake, Math.max(0, timeoutMs))
      : undefined;
    signal?.addEventListener("abort", wake, { once: true });
    return () => {
      this.#wakers.delete(wake);
      if (timer !== undefined) clock.clearTimeout(timer);
      signal?.removeEventListener("abort", wake);
    };
  }

  #measure(ms: number): void {
    // A slow forward (one that waited out an election) says little about the round trip.
    const capped = this.#smoothedMs === undefined ? ms : Math.min(ms, 4 * this.#smoothedMs);
    this.#smoothedMs = this.#smoothedMs === undefined
      ? capped
      : this.#smoothedMs + (capped - this.#smoothedMs) / 8;
  }
}
