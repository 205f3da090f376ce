/**
 * A TCP proxy in front of one node's peer port that tells its callers apart: every member
 * reaches node j at the same address (j's proxy), as a replicated member directory requires
 * (a node that joins learns one peer URL per member), and the proxy still cuts what node i
 * sends to j alone. It reads each connection's first request head for the sender's
 * `x-edgeraft-from` header (peer connections are plain-TCP HTTP/1.1 and WebSocket ones in the
 * fault runs; each belongs to one sender), then applies that sender's block, as
 * {@linkcode TcpProxy} does for an ordered pair: `drop` closes the sender's connections and
 * refuses new ones, `stall` holds their bytes both ways until lifted. A connection whose head
 * names no sender (TLS, h2) is never blocked.
 *
 * @module
 */

import {
  acceptEach,
  type BlockMode,
  closePipe,
  type Pipe as TcpPipe,
  shutDown,
  writeAll,
} from "./tcp_proxy.ts";

/** A request head this long without its end is no peer request: forward it unsniffed. */
const MAX_HEAD_BYTES = 16 * 1024;
const FROM = /\r\nx-edgeraft-from:[ \t]*(\d+)/i;

interface Pipe extends TcpPipe {
  /** The sender, 0 until its head was read or when it named none. */
  from: number;
}

type Address = { hostname: string; port: number };
type Target = Address | ((from: number) => Address);

interface Block {
  mode: BlockMode;
  lifted: Promise<void>;
  lift: () => void;
}

/**
 * Everything sent to one node, with a switch per sender.
 *
 * @example
 * ```ts ignore
 * const proxy = PeerProxy.start({ hostname: "127.0.0.1", port: 7102 });
 * proxy.block(1, "drop"); // node 1 can no longer reach node 2; node 3 still can
 * proxy.unblockAll();
 * proxy.close();
 * ```
 */
export class PeerProxy {
  readonly #listener: Deno.TcpListener;
  readonly #target: Target;
  readonly #pipes = new Set<Pipe>();
  readonly #blocks = new Map<number, Block>();
  #closed = false;

  private constructor(listener: Deno.TcpListener, target: Target) {
    this.#listener = listener;
    this.#target = target;
  }

  /**
   * Listens on a free port of `options.hostname` (default 127.0.0.1) and forwards
   * every connection to `target`, or to where `target(sender)` says (0: it named none; the
   * WAN fixture sends each sender through its own delaying link).
   *
   * @example
   * ```ts ignore
   * const proxy = PeerProxy.start({ hostname: "127.0.0.1", port: 7102 });
   * const url = `http://127.0.0.1:${proxy.port}`;
   * ```
   */
  static start(target: Target, options: { hostname?: string } = {}): PeerProxy {
    const listener = Deno.listen({ hostname: options.hostname ?? "127.0.0.1", port: 0 });
    const proxy = new PeerProxy(listener, target);
    void acceptEach(listener, () => proxy.#closed, (client) => proxy.#accept(client));
    return proxy;
  }

  /**
   * The port the proxy listens on.
   *
   * @example
   * ```ts ignore
   * console.log(proxy.port);
   * ```
   */
  get port(): number {
    return this.#listener.addr.port;
  }

  /**
   * Cuts what node `from` sends here. `drop` closes its connections at once.
   *
   * @example
   * ```ts ignore
   * proxy.block(3, "stall");
   * ```
   */
  block(from: number, mode: BlockMode): void {
    let block = this.#blocks.get(from);
    if (!block) {
      let lift = () => {};
      const lifted = new Promise<void>((resolve) => lift = resolve);
      block = { mode, lifted, lift };
      this.#blocks.set(from, block);
    }
    block.mode = mode;
    if (mode === "drop") {
      for (const pipe of [...this.#pipes]) if (pipe.from === from) closePipe(this.#pipes, pipe);
    }
  }

  /**
   * Lifts every block; stalled connections resume where they stopped.
   *
   * @example
   * ```ts ignore
   * proxy.unblockAll();
   * ```
   */
  unblockAll(): void {
    for (const block of this.#blocks.values()) block.lift();
    this.#blocks.clear();
  }

  /**
   * Stops listening and closes every connection.
   *
   * @example
   * ```ts ignore
   * proxy.close();
   * ```
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.unblockAll();
    shutDown(this.#listener, this.#pipes);
  }

  #accept(client: Deno.TcpConn): void {
    const pipe: Pipe = { client, from: 0, closed: false };
    this.#pipes.add(pipe);
    void this.#serve(pipe);
  }

  /** Resolves once `pipe`'s sender may send; false when the pipe was dropped meanwhile. */
  async #pass(pipe: Pipe): Promise<boolean> {
    for (;;) {
      if (pipe.closed) return false;
      const block = this.#blocks.get(pipe.from);
      if (!block || pipe.from === 0) return true;
      if (block.mode === "drop") {
        closePipe(this.#pipes, pipe);
        return false;
      }
      await block.lifted;
    }
  }

  async #serve(pipe: Pipe): Promise<void> {
    const head = await this.#readHead(pipe);
    if (head === undefined) return closePipe(this.#pipes, pipe);
    // A connection made during a stall waits, like a SYN that gets through only after healing.
    if (!await this.#pass(pipe)) return;
    try {
      const target = typeof this.#target === "function" ? this.#target(pipe.from) : this.#target;
      pipe.upstream = await Deno.connect(target);
    } catch {
      // The target is down: the sender sees its connection closed.
      return closePipe(this.#pipes, pipe);
    }
    if (pipe.closed) return void pipe.upstream.close();
    try {
      await writeAll(pipe.upstream, head);
    } catch {
      return closePipe(this.#pipes, pipe);
    }
    await Promise.all([
      this.#pump(pipe, pipe.client, pipe.upstream),
      this.#pump(pipe, pipe.upstream, pipe.client),
    ]);
  }

  /** Reads up to the end of the first request head (or a cap); sets the pipe's sender. */
  async #readHead(pipe: Pipe): Promise<Uint8Array | undefined> {
    let head = new Uint8Array(0);
    const chunk = new Uint8Array(4096);
    try {
      while (head.length < MAX_HEAD_BYTES) {
        const n = await pipe.client.read(chunk);
        if (n === null) return head.length > 0 ? head : undefined;
        const grown = new Uint8Array(head.length + n);
        grown.set(head);
        grown.set(chunk.subarray(0, n), head.length);
        head = grown;
        const text = new TextDecoder("latin1").decode(head);
        const end = text.indexOf("\r\n\r\n");
        if (end >= 0) {
          pipe.from = Number(FROM.exec(text.slice(0, end + 2))?.[1] ?? 0);
          return head;
        }
      }
      return head;
    } catch {
      return undefined;
    }
  }

  async #pump(pipe: Pipe, from: Deno.TcpConn, to: Deno.TcpConn): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (!pipe.closed) {
        const n = await from.read(buffer);
        if (n === null) break;
        // Bytes read while the sender is cut off are held until the block lifts.
        if (!await this.#pass(pipe)) break;
        await writeAll(to, buffer.subarray(0, n));
      }
    } catch {
      // a side was reset or closed: end the whole pipe
    }
    closePipe(this.#pipes, pipe);
  }
}
