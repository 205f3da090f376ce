/**
 * The simulated disk and network the real `RaftNode` runs on in the simulator.
 *
 * `SimDisk`: a `MemoryStorage` holds what is durable; each write completes at a virtual time
 * the seed picks (in order, later on a slow disk), and a crash drops every write not yet
 * complete, as a power cut would.
 *
 * `SimNetwork`: a `Transport` per node incarnation, with the nemesis's loss, delay (and so
 * reordering), duplication and partitions (symmetric, one-way, bridge), for Raft messages and
 * for calls (a follower forwarding a write to the leader).
 *
 * @module
 */

import type { Entry, Message, NodeId, Snapshot } from "../../src/raft/types.ts";
import { MemoryStorage } from "../../src/storage/memory_storage.ts";
import type { AppendUpdate, PersistedState, RaftStorage } from "../../src/storage/raft_storage.ts";
import { decodeMessages, encodeMessages } from "../../src/transport/codec.ts";
import {
  CallError,
  PeerUnreachableError,
  type Transport,
  type TransportEvents,
} from "../../src/transport/transport.ts";
import type { Nemesis } from "./nemesis.ts";
import type { Scheduler } from "./scheduler.ts";

/** Virtual ms per nemesis step: message delays are counted in these. */
export const STEP_MS = 2.5;

/**
 * One node's disk across its incarnations. `open()` gives the storage of a new incarnation;
 * `crash()` loses what the current one had not finished writing.
 *
 * @example
 * ```ts ignore
 * const disk = new SimDisk(scheduler, 1);
 * const storage = disk.open(() => {});
 * disk.crash(); // unfinished appends are gone; disk.open() again to restart
 * ```
 */
export class SimDisk {
  readonly durable = new MemoryStorage();
  slow = false;
  #current?: SimStorage;
  /**
   * What `durable` holds, readable at once (its own reads are promises): the snapshot's index
   * and term, and the term of every entry after it. The checks ask it which voters hold an entry
   * when a leader counts it committed.
   */
  #snapIndex = 0;
  #snapTerm = 0;
  #terms: number[] = [];

  constructor(readonly scheduler: Scheduler, readonly id: NodeId) {}

  /**
   * The storage of a new incarnation; `onPersist` sees every batch of entries it is asked to
   * write, and the function it returns is called once that write is durable.
   */
  open(onPersist: (entries: Entry[]) => (() => void) | undefined): SimStorage {
    this.#current = new SimStorage(this, onPersist);
    return this.#current;
  }

  /** A power cut: writes in progress never complete. */
  crash(): void {
    this.#current?.kill();
    this.#current = undefined;
  }

  /**
   * The term of the durable entry at `index`; "snapshot" when a durable snapshot covers it
   * (it was committed); undefined when the disk does not hold it.
   */
  durableTerm(index: number): number | "snapshot" | undefined {
    if (index <= this.#snapIndex) return "snapshot";
    return this.#terms[index - this.#snapIndex - 1];
  }

  /** @internal Mirrors a completed append (the same rules as `MemoryStorage`). */
  noteAppend(entries: Entry[]): void {
    if (entries.length === 0) return;
    this.#terms.length = Math.max(0, entries[0].index - this.#snapIndex - 1);
    for (const e of entries) this.#terms.push(e.term);
  }

  /** @internal Mirrors a completed snapshot save. */
  noteSnapshot(index: number, term: number): void {
    const at = index === this.#snapIndex
      ? this.#snapTerm
      : this.#terms[index - this.#snapIndex - 1];
    this.#terms = at === term ? this.#terms.slice(index - this.#snapIndex) : [];
    this.#snapIndex = index;
    this.#snapTerm = term;
  }

  /** How long the next write takes, in virtual ms. */
  latency(): number {
    const p = this.scheduler.prng;
    if (this.slow) return 1 + p.int(40);
    return p.chance(0.05) ? 1 + p.int(8) : p.int(2);
  }
}

class SimStorage implements RaftStorage {
  #dead = false;
  /** When the last queued write completes: writes complete in the order issued. */
  #lastDone = 0;

  constructor(
    readonly disk: SimDisk,
    readonly onPersist: (entries: Entry[]) => (() => void) | undefined,
  ) {}

  kill(): void {
    this.#dead = true;
  }

  load(): Promise<PersistedState> {
    return this.disk.durable.load();
  }

  append(update: AppendUpdate): Promise<void> {
    const durable = update.entries.length > 0 ? this.onPersist(update.entries) : undefined;
    const copy: AppendUpdate = {
      entries: [...update.entries],
      hardState: update.hardState && { ...update.hardState },
    };
    return this.#later(async () => {
      await this.disk.durable.append(copy);
      this.disk.noteAppend(copy.entries);
      durable?.();
    });
  }

  saveSnapshot(snapshot: Snapshot): Promise<void> {
    return this.#later(async () => {
      await this.disk.durable.saveSnapshot(snapshot);
      this.disk.noteSnapshot(snapshot.metadata.index, snapshot.metadata.term);
    });
  }

  loadSnapshot(): Promise<Snapshot | undefined> {
    if (this.#dead) return new Promise(() => {}); // a dead process waits forever
    return this.disk.durable.loadSnapshot();
  }

  close(): void {
    this.#dead = true;
  }

  #later(write: () => Promise<void>): Promise<void> {
    if (this.#dead) return new Promise(() => {}); // a dead process waits forever
    const s = this.disk.scheduler;
    const done = Math.max(this.#lastDone, s.now + this.disk.latency());
    this.#lastDone = done;
    return new Promise((resolve, reject) => {
      s.at(done, () => {
        if (this.#dead) return;
        write().then(resolve, reject);
      });
    });
  }
}

interface Endpoint {
  transport: SimTransport;
  events: TransportEvents;
}

/**
 * Connects the nodes' transports through the nemesis.
 *
 * @example
 * ```ts ignore
 * const net = new SimNetwork(scheduler, nemesis);
 * const transport = net.attach(1, events);
 * net.detach(1); // a crash
 * ```
 */
export class SimNetwork {
  readonly #endpoints = new Map<NodeId, Endpoint>();
  /** Messages a holding partition keeps until their link opens again. */
  #held: Message[] = [];
  /** Sees every Raft message as it reaches a live node (the checks count granted votes). */
  onDeliver?: (m: Message) => void;

  constructor(readonly scheduler: Scheduler, readonly nemesis: Nemesis) {}

  /** The transport of a new incarnation of node `id`. */
  attach(id: NodeId, events: TransportEvents): SimTransport {
    const transport = new SimTransport(this, id);
    this.#endpoints.set(id, { transport, events });
    return transport;
  }

  /**
   * Whether a crash is reported to the peers that can still hear from the crashed node, as the
   * kernel closing a killed process's sockets tells them (`onConnectionLost`, 1 virtual ms
   * later). Off, a crash is only silence, as in the seeds found before it existed.
   */
  connectionLoss = false;

  /** Node `id` is gone (crashed): nothing reaches it, nothing it sent is delivered later. */
  detach(id: NodeId): void {
    const e = this.#endpoints.get(id);
    if (e) e.transport.open = false;
    this.#endpoints.delete(id);
    if (!this.connectionLoss) return;
    for (const [peer, endpoint] of this.#endpoints) {
      if (this.nemesis.blocks(id, peer)) continue; // a cut link carries no FIN either
      this.scheduler.after(1, () => {
        if (this.#endpoints.get(peer) === endpoint) endpoint.events.onConnectionLost?.(id);
      });
    }
  }

  /** The events of the live incarnation of `to`, if `from` can reach it now. */
  route(from: NodeId, to: NodeId): Endpoint | undefined {
    if (this.nemesis.blocks(from, to)) return undefined;
    const e = this.#endpoints.get(to);
    return e?.transport.open ? e : undefined;
  }

  /** Keeps a message on a cut link, for `release` to deliver once the link is open. */
  hold(m: Message): void {
    this.#held.push(m);
  }

  /** Delivers, after the usual delays, the held messages whose link is open now. */
  release(): void {
    if (this.#held.length === 0) return;
    const still: Message[] = [];
    for (const m of this.#held) {
      if (this.nemesis.blocks(m.from, m.to)) still.push(m);
      else this.deliverLater(m, 0);
    }
    this.#held = still;
  }

  /**
   * Delivers `m` after the nemesis's delay plus `extraSteps`, if its link is open then;
   * `settled` learns whether it was (a snapshot chunk is never held: its sender is told).
   */
  deliverLater(m: Message, extraSteps: number, settled?: (delivered: boolean) => void): void {
    this.scheduler.after(STEP_MS * (1 + this.nemesis.delay() + extraSteps), () => {
      const to = this.route(m.from, m.to);
      if (to) {
        this.onDeliver?.(m);
        to.events.onMessages([m]);
      } else if (!settled && this.nemesis.holding && this.nemesis.blocks(m.from, m.to)) {
        this.hold(m);
      }
      settled?.(to !== undefined);
    });
  }

  /** Whether `from`'s current incarnation is `t`. */
  isCurrent(t: SimTransport): boolean {
    return t.open && this.#endpoints.get(t.id)?.transport === t;
  }

  /** @internal */
  eventsOf(t: SimTransport): TransportEvents | undefined {
    const e = this.#endpoints.get(t.id);
    return e?.transport === t ? e.events : undefined;
  }
}

class SimTransport implements Transport {
  open = true;
  #peers = new Set<NodeId>();

  constructor(readonly net: SimNetwork, readonly id: NodeId) {}

  send(messages: Message[]): void {
    if (!this.open || messages.length === 0) return;
    const s = this.net.scheduler;
    const nemesis = this.net.nemesis;
    // Through the codec, as over a wire: nothing is shared between nodes.
    const carried = decodeMessages(encodeMessages(messages));
    for (const m of carried) {
      // A snapshot chunk's sender is told how it went, as the real transport does
      // (`TransportEvents.onSnapshotStatus`): else its core would wait for it forever.
      const snap = m.type === "snap";
      if (!this.#peers.has(m.to)) {
        if (snap) this.#later(1, () => this.#snapStatus(m.to, false));
        continue;
      }
      if (snap && (nemesis.blocks(m.from, m.to) || s.prng.chance(nemesis.dropRate))) {
        this.#later(1, () => this.#unreachable(m));
        continue;
      }
      if (nemesis.blocks(m.from, m.to)) {
        if (nemesis.holding) {
          this.net.hold(m);
          continue;
        }
        // A dead link is noticed by the real transport, and reported to the core.
        if (s.prng.chance(0.3)) this.#later(1, () => this.#unreachable(m));
        continue;
      }
      if (s.prng.chance(nemesis.dropRate)) continue;
      const copies = s.prng.chance(nemesis.duplicateRate) ? 2 : 1;
      for (let i = 0; i < copies; i++) {
        // A duplicate may turn up long after (a second from a queue somewhere): messages of
        // an old term must be harmless whenever they arrive.
        // Delivered even if the sender has crashed since: it was on the wire.
        const settled = snap && i === 0
          ? (ok: boolean) => {
            // The answer comes back over the wire: success once the last chunk got there.
            if (ok && !m.snapshot?.done) return;
            this.#later(STEP_MS * (1 + nemesis.delay()), () => this.#snapStatus(m.to, ok));
          }
          : undefined;
        this.net.deliverLater(m, i > 0 ? s.prng.int(400) : 0, settled);
      }
    }
  }

  setPeers(peers: Map<NodeId, string>): void {
    this.#peers = new Set(peers.keys());
  }

  call(peer: NodeId, method: string, body: Uint8Array): Promise<Uint8Array> {
    const s = this.net.scheduler;
    return new Promise((resolve, reject) => {
      const unreachable = () => reject(new PeerUnreachableError(peer, "simulated network"));
      s.after(STEP_MS * (1 + this.net.nemesis.delay()), () => {
        const target = this.#peers.has(peer) ? this.net.route(this.id, peer) : undefined;
        if (!target?.events.onCall || s.prng.chance(this.net.nemesis.dropRate)) {
          return unreachable();
        }
        target.events.onCall(method, body.slice(), this.id).then(
          (answer) => this.#reply(peer, () => resolve(answer.slice()), unreachable),
          (e) => {
            const err = e instanceof CallError ? e : new CallError(500, `call "${method}" failed`);
            this.#reply(peer, () => reject(err), unreachable);
          },
        );
      });
    });
  }

  close(): Promise<void> {
    this.open = false;
    return Promise.resolve();
  }

  #reply(peer: NodeId, deliver: () => void, lost: () => void): void {
    this.net.scheduler.after(STEP_MS * (1 + this.net.nemesis.delay()), () => {
      if (this.net.route(peer, this.id)) deliver();
      else lost();
    });
  }

  #later(delay: number, fn: () => void): void {
    this.net.scheduler.after(delay, () => {
      if (this.net.isCurrent(this)) fn();
    });
  }

  #snapStatus(to: NodeId, ok: boolean): void {
    this.net.eventsOf(this)?.onSnapshotStatus?.(to, ok);
  }

  #unreachable(m: Message): void {
    const events = this.net.eventsOf(this);
    events?.onUnreachable(m.to);
    if (m.type === "snap") events?.onSnapshotStatus?.(m.to, false);
  }
}
