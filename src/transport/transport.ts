/**
 * What the node driver needs from the network: fire-and-forget delivery of Raft messages to
 * peers, and a request/response call for everything else (forwarding a client write to the
 * leader). Two implementations: `PeerTransport` (real sockets) and `MemoryTransport` (tests).
 *
 * Delivery is best effort, as Raft expects: a message may be dropped (the core retransmits),
 * and messages to one peer may overtake each other when several requests are in flight.
 *
 * @module
 */

import type { Message, NodeId } from "../raft/types.ts";

/**
 * The transport a node driver owns.
 *
 * @example
 * ```ts
 * import type { Transport } from "./transport.ts";
 * function broadcast(t: Transport, heartbeats: Parameters<Transport["send"]>[0]): void {
 *   t.send(heartbeats); // returns at once; delivery happens in the background
 * }
 * ```
 */
export interface Transport {
  /**
   * Queues messages for their `to` peers, batching per peer; never blocks and never calls back
   * synchronously. Throws `TypeError` for a local-only message type (`hup`, `beat`, ...).
   */
  send(messages: Message[]): void;
  /** Peers: id -> base URL of its peer port, e.g. "http://127.0.0.1:7102". Replaces the set. */
  setPeers(peers: Map<NodeId, string>): void;
  /**
   * A request/response to a peer's `onCall`. Rejects with `CallError` when the peer answered
   * with an error, or `PeerUnreachableError` when it could not be asked.
   */
  call(peer: NodeId, method: string, body: Uint8Array, signal?: AbortSignal): Promise<Uint8Array>;
  /** Stops sending, drops what is queued, and releases every socket and timer. */
  close(): Promise<void>;
}

/**
 * What a transport reports to its node. Every callback runs asynchronously, never inside
 * `send()`, so the driver can call `send()` while it handles a `Ready`.
 *
 * @example
 * ```ts
 * import type { TransportEvents } from "./transport.ts";
 * const events: TransportEvents = {
 *   onMessages: (msgs) => console.log("got", msgs.length),
 *   onUnreachable: (peer) => console.log("lost", peer),
 * };
 * ```
 */
export interface TransportEvents {
  /** A validated batch from a peer. */
  onMessages(messages: Message[]): void;
  /** Sending to `peer` failed or was dropped; the core should probe it (`reportUnreachable`). */
  onUnreachable(peer: NodeId): void;
  /**
   * The connection to `peer` closed, was refused or went silent (not a mere full queue): its
   * process may be gone. A follower whose leader that is campaigns soon (`reportPeerDown`).
   */
  onConnectionLost?(peer: NodeId): void;
  /**
   * The outcome of sending a snapshot to `peer` (`reportSnapshot`): `true` once the last chunk
   * (`done`) was accepted, `false` as soon as any chunk could not be delivered.
   */
  onSnapshotStatus?(peer: NodeId, ok: boolean): void;
  /**
   * Answers a peer's `call`; throw `CallError` to pick the status the caller sees. It runs to
   * the end even if the caller gives up (a forwarded write cannot be taken back anyway).
   */
  onCall?(method: string, body: Uint8Array, from: NodeId): Promise<Uint8Array>;
}

/**
 * A peer answered a call with an error status; `status` follows HTTP (404 unknown method...).
 *
 * @example
 * ```ts
 * import { CallError } from "./transport.ts";
 * throw new CallError(409, "not the leader");
 * ```
 */
export class CallError extends Error {
  /** `status`: the HTTP status the peer answered (or would have). */
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = "CallError";
  }
}

/**
 * A peer could not be asked at all: unknown id, connection refused, timeout, or closed.
 *
 * @example
 * ```ts
 * import { PeerUnreachableError } from "./transport.ts";
 * const e = new PeerUnreachableError(3, "connection refused");
 * console.log(e.peer); // 3
 * ```
 */
export class PeerUnreachableError extends Error {
  /** `reason`: what went wrong, for the message. */
  constructor(readonly peer: NodeId, reason: string, options?: ErrorOptions) {
    super(`peer ${peer} unreachable: ${reason}`, options);
    this.name = "PeerUnreachableError";
  }
}
