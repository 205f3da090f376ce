/**
 * The in-memory twin of `PeerTransport`, for node-driver tests: a `MemoryNetwork` hub routes
 * between the `MemoryTransport`s attached to it, asynchronously (one microtask later), in the
 * order sent. Switches cut a node off entirely or one direction of one link.
 *
 * It behaves like the real one where a driver can tell: messages go through the codec (so a
 * message that could not cross a real wire fails here too, and no buffers are shared between
 * nodes), only peers named by `setPeers` are reachable, a dropped message is reported with
 * `onUnreachable` (and `onSnapshotStatus(false)` for a `snap`), and `call` reaches `onCall`.
 *
 * @module
 */

import type { Message, NodeId } from "../raft/types.ts";
import { decodeMessages, encodeMessages, isWireMessageType } from "./codec.ts";
import { isCallMethod } from "./peer_protocol.ts";
import {
  CallError,
  PeerUnreachableError,
  type Transport,
  type TransportEvents,
} from "./transport.ts";

/**
 * The hub that connects in-memory transports.
 *
 * @example
 * ```ts
 * import { MemoryNetwork } from "./memory_transport.ts";
 * const net = new MemoryNetwork();
 * const t1 = net.attach(1, { onMessages: () => {}, onUnreachable: () => {} });
 * const t2 = net.attach(2, { onMessages: (m) => console.log(m), onUnreachable: () => {} });
 * t1.setPeers(new Map([[2, "mem://2"]]));
 * net.isolate(2); // from now on, nothing reaches node 2 or leaves it
 * net.heal(2);
 * ```
 */
export class MemoryNetwork {
  readonly #nodes = new Map<NodeId, MemoryTransport>();
  readonly #isolated = new Set<NodeId>();
  readonly #cut = new Set<string>();
  readonly #serialize: boolean;

  /** `serialize: false` skips the codec round trip (faster; buffers are then shared). */
  constructor(options: { serialize?: boolean } = {}) {
    this.#serialize = options.serialize ?? true;
  }

  /** Creates the transport of node `id`; attaching an id twice replaces the old one. */
  attach(id: NodeId, events: TransportEvents): MemoryTransport {
    const transport = new MemoryTransport(this, id, events);
    this.#nodes.set(id, transport);
    return transport;
  }

  /** Drops all traffic to and from `id` until `heal(id)`. */
  isolate(id: NodeId): void {
    this.#isolated.add(id);
  }

  /** Undoes `isolate(id)`. */
  heal(id: NodeId): void {
    this.#isolated.delete(id);
  }

  /** Drops traffic from `from` to `to` (one direction only) until `restore`. */
  cut(from: NodeId, to: NodeId): void {
    this.#cut.add(`${from}>${to}`);
  }

  /** Undoes `cut(from, to)`. */
  restore(from: NodeId, to: NodeId): void {
    this.#cut.delete(`${from}>${to}`);
  }

  /** Undoes every `isolate` and `cut`. */
  healAll(): void {
    this.#isolated.clear();
    this.#cut.clear();
  }

  /**
   * Tells node `at` that its connection to `peer` was lost (`onConnectionLost`), as a real
   * transport does when the peer's process dies and its sockets close.
   */
  connectionLost(at: NodeId, peer: NodeId): void {
    const transport = this.#nodes.get(at);
    if (transport?.isOpen) queueMicrotask(() => transport.lostConnection(peer));
  }

  /** Whether traffic can go from `from` to `to` right now (both attached and open). */
  canReach(from: NodeId, to: NodeId): boolean {
    return !this.#isolated.has(from) && !this.#isolated.has(to) &&
      !this.#cut.has(`${from}>${to}`) && this.#nodes.get(to)?.isOpen === true;
  }

  /** @internal The transport `to` refers to, if reachable from `from`. */
  route(from: NodeId, to: NodeId): MemoryTransport | undefined {
    return this.canReach(from, to) ? this.#nodes.get(to) : undefined;
  }

  /** @internal Copies messages the way a wire would. */
  carry(messages: Message[]): Message[] {
    return this.#serialize ? decodeMessages(encodeMessages(messages)) : messages;
  }

  /** @internal Forgets a closed transport. */
  detach(transport: MemoryTransport): void {
    if (this.#nodes.get(transport.id) === transport) this.#nodes.delete(transport.id);
  }
}

/**
 * One node's in-memory transport; create it with `MemoryNetwork.attach`.
 *
 * @example
 * ```ts
 * import { MemoryNetwork } from "./memory_transport.ts";
 * const net = new MemoryNetwork();
 * const t = net.attach(1, { onMessages: () => {}, onUnreachable: (p) => console.log("lost", p) });
 * t.setPeers(new Map([[2, "mem://2"]]));
 * t.send([{
 *   type: "heartbeat", from: 1, to: 2, term: 1, logTerm: 0, index: 0,
 *   entries: [], commit: 0, reject: false, rejectHint: 0,
 * }]); // node 2 is not attached: "lost 2" is printed a microtask later
 * await t.close();
 * ```
 */
export class MemoryTransport implements Transport {
  #peers = new Set<NodeId>();
  #open = true;

  /** Use `MemoryNetwork.attach` rather than this. */
  constructor(
    private readonly network: MemoryNetwork,
    readonly id: NodeId,
    private readonly events: TransportEvents,
  ) {}

  /** @internal Reports a lost connection to `peer` (`MemoryNetwork.connectionLost`). */
  lostConnection(peer: NodeId): void {
    if (this.#open) this.events.onConnectionLost?.(peer);
  }

  /** False once closed. */
  get isOpen(): boolean {
    return this.#open;
  }

  send(messages: Message[]): void {
    if (!this.#open) return;
    const byPeer = new Map<NodeId, Message[]>();
    for (const m of messages) {
      if (!isWireMessageType(m.type)) {
        throw new TypeError(`message type "${m.type}" is local and cannot be sent`);
      }
      const list = byPeer.get(m.to);
      if (list) list.push(m);
      else byPeer.set(m.to, [m]);
    }
    for (const [to, batch] of byPeer) {
      // Encode now, as the real transport does: a bad message throws in the caller's hands.
      const carried = this.network.carry(batch);
      queueMicrotask(() => this.#deliver(to, carried));
    }
  }

  setPeers(peers: Map<NodeId, string>): void {
    this.#peers = new Set(peers.keys());
  }

  async call(
    peer: NodeId,
    method: string,
    body: Uint8Array,
    signal?: AbortSignal,
  ): Promise<Uint8Array> {
    if (!isCallMethod(method)) throw new TypeError(`"${method}" is not a valid call method name`);
    await Promise.resolve(); // answer asynchronously, as a network would
    signal?.throwIfAborted();
    const target = this.#open && this.#peers.has(peer) && peer !== this.id
      ? this.network.route(this.id, peer)
      : undefined;
    if (!target) throw new PeerUnreachableError(peer, "not reachable in the memory network");
    let answer: Uint8Array;
    try {
      answer = await untilAborted(target.answerCall(method, body.slice(), this.id), signal);
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      // What the peer handler would turn it into.
      throw e instanceof CallError ? e : new CallError(500, `call "${method}" failed`);
    }
    if (!this.network.canReach(peer, this.id)) {
      throw new PeerUnreachableError(peer, "the answer was lost in the memory network");
    }
    return answer.slice();
  }

  close(): Promise<void> {
    this.#open = false;
    this.network.detach(this);
    return Promise.resolve();
  }

  /** @internal Runs this node's `onCall` for a peer. */
  async answerCall(method: string, body: Uint8Array, from: NodeId): Promise<Uint8Array> {
    if (!this.events.onCall) throw new CallError(404, "this node serves no calls");
    return await this.events.onCall(method, body, from);
  }

  /** @internal Hands a batch to this node's `onMessages`. */
  receive(messages: Message[]): void {
    if (this.#open) this.events.onMessages(messages);
  }

  #deliver(to: NodeId, messages: Message[]): void {
    if (!this.#open) return;
    const known = this.#peers.has(to) && to !== this.id;
    const target = known ? this.network.route(this.id, to) : undefined;
    if (target) {
      target.receive(messages);
      return;
    }
    this.events.onUnreachable(to);
    if (messages.some((m) => m.type === "snap")) this.events.onSnapshotStatus?.(to, false);
  }
}

/** Settles with `work`, or rejects with the abort reason as soon as `signal` aborts. */
function untilAborted<T>(work: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
