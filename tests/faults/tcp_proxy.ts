/**
 * A TCP proxy the fault harness controls: node i's `--peers` entry for node j points at the
 * proxy of the ordered pair (i -> j), which forwards to j's real peer port. Blocking it cuts
 * what i sends to j below the product, the way a firewall rule would, while (j -> i) goes on.
 *
 * Blocked, the proxy either drops connections (existing ones are closed, new ones closed as
 * soon as they are accepted: the sender sees resets) or stalls them (bytes stay in the kernel
 * buffers, as over a link that loses every packet, and flow again once unblocked, like TCP
 * retransmission after a partition heals).
 *
 * It can also delay what it carries (`setDelay`), each direction on its own, to put a WAN's
 * round trips between nodes on one machine (tests/wan/wan_cluster.ts); the delay can change
 * while connections are open, and bytes never overtake each other.
 *
 * @module
 */

/**
 * How a block treats connections: `drop` closes them, `stall` holds their bytes back.
 *
 * @example
 * ```ts
 * import type { BlockMode } from "./tcp_proxy.ts";
 * const mode: BlockMode = "stall";
 * ```
 */
export type BlockMode = "drop" | "stall";

/**
 * One proxied connection: the accepted socket, the one to the target once connected, and
 * whether it has ended.
 *
 * @example
 * ```ts ignore
 * const pipe: Pipe = { client: await listener.accept(), closed: false };
 * ```
 */
export interface Pipe {
  client: Deno.TcpConn;
  upstream?: Deno.TcpConn;
  closed: boolean;
}

/**
 * Ends `pipe` once: closes both of its sockets and forgets it from `pipes`.
 *
 * @example
 * ```ts ignore
 * closePipe(this.#pipes, pipe); // a second call does nothing
 * ```
 */
export function closePipe<P extends Pipe>(pipes: Set<P>, pipe: P): void {
  if (pipe.closed) return;
  pipe.closed = true;
  pipes.delete(pipe);
  closeQuietly(pipe.client, pipe.upstream);
}

/**
 * Closes each of `closers` that is there, ignoring those already closed.
 *
 * @example
 * ```ts ignore
 * closeQuietly(listener); // on shutdown, whether or not an accept error closed it already
 * ```
 */
export function closeQuietly(...closers: ({ close(): void } | undefined)[]): void {
  for (const closer of closers) {
    try {
      closer?.close();
    } catch {
      // already closed
    }
  }
}

/**
 * Hands each connection `listener` accepts to `take`, until `closed()` or the listener is
 * closed.
 *
 * @example
 * ```ts ignore
 * void acceptEach(listener, () => closed, (client) => serve(client));
 * ```
 */
export async function acceptEach(
  listener: Deno.TcpListener,
  closed: () => boolean,
  take: (client: Deno.TcpConn) => void,
): Promise<void> {
  while (!closed()) {
    let client: Deno.TcpConn;
    try {
      client = await listener.accept();
    } catch {
      return; // the listener was closed
    }
    take(client);
  }
}

/**
 * Stops a proxy: closes its listener and ends every pipe.
 *
 * @example
 * ```ts ignore
 * shutDown(this.#listener, this.#pipes);
 * ```
 */
export function shutDown<P extends Pipe>(listener: Deno.TcpListener, pipes: Set<P>): void {
  closeQuietly(listener);
  for (const pipe of [...pipes]) closePipe(pipes, pipe);
}

/**
 * Writes all of `bytes` (one write may take only part of them).
 *
 * @example
 * ```ts ignore
 * await writeAll(pipe.upstream, head);
 * ```
 */
export async function writeAll(conn: Deno.TcpConn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

/**
 * One direction of peer traffic between two nodes, with a switch.
 *
 * @example
 * ```ts ignore
 * const proxy = await TcpProxy.start({ hostname: "127.0.0.1", port: 7102 });
 * proxy.block("drop"); // node 1 can no longer reach node 2
 * proxy.unblock();
 * proxy.close();
 * ```
 */
export class TcpProxy {
  readonly #listener: Deno.TcpListener;
  readonly #target: { hostname: string; port: number };
  readonly #pipes = new Set<Pipe>();
  #mode: BlockMode | undefined;
  #opened: Promise<void> = Promise.resolve();
  #open: () => void = () => {};
  #closed = false;
  /** One-way delays (ms): what the connecting side sends, and what comes back. */
  #forwardDelayMs = 0;
  #backwardDelayMs = 0;

  private constructor(listener: Deno.TcpListener, target: { hostname: string; port: number }) {
    this.#listener = listener;
    this.#target = target;
  }

  /**
   * Listens on a free loopback port and forwards every connection to `target`.
   *
   * @example
   * ```ts ignore
   * const proxy = await TcpProxy.start({ hostname: "127.0.0.1", port: 7102 });
   * ```
   */
  static start(
    target: { hostname: string; port: number },
    options: { hostname?: string } = {},
  ): Promise<TcpProxy> {
    const listener = Deno.listen({ hostname: options.hostname ?? "127.0.0.1", port: 0 });
    const proxy = new TcpProxy(listener, target);
    void acceptEach(listener, () => proxy.#closed, (client) => proxy.#accept(client));
    return Promise.resolve(proxy);
  }

  /**
   * The port the proxy listens on.
   *
   * @example
   * ```ts ignore
   * const url = `http://127.0.0.1:${proxy.port}`;
   * ```
   */
  get port(): number {
    return this.#listener.addr.port;
  }

  /**
   * Delays each byte by `forwardMs` on its way to the target and `backwardMs` on its way back
   * (default: the same), from now on, open connections included. 0 sends at once.
   *
   * @example
   * ```ts ignore
   * proxy.setDelay(150); // 300 ms round trips through this proxy
   * ```
   */
  setDelay(forwardMs: number, backwardMs: number = forwardMs): void {
    this.#forwardDelayMs = Math.max(0, forwardMs);
    this.#backwardDelayMs = Math.max(0, backwardMs);
  }

  /**
   * The one-way delays in force (ms).
   *
   * @example
   * ```ts ignore
   * proxy.delay.forwardMs; // 150
   * ```
   */
  get delay(): { forwardMs: number; backwardMs: number } {
    return { forwardMs: this.#forwardDelayMs, backwardMs: this.#backwardDelayMs };
  }

  /**
   * Whether traffic is cut, and how.
   *
   * @example
   * ```ts ignore
   * if (proxy.blocked) proxy.unblock();
   * ```
   */
  get blocked(): BlockMode | undefined {
    return this.#mode;
  }

  /**
   * Cuts the link. `drop` also closes every open connection, so the sender notices at once;
   * `stall` leaves them open and silent, so the sender notices only by its own timeouts.
   *
   * @example
   * ```ts ignore
   * proxy.block("stall");
   * ```
   */
  block(mode: BlockMode): void {
    if (this.#mode === undefined) {
      this.#opened = new Promise((resolve) => this.#open = resolve);
    }
    this.#mode = mode;
    if (mode === "drop") { for (const pipe of [...this.#pipes]) closePipe(this.#pipes, pipe); }
  }

  /**
   * Lets traffic flow again; stalled connections resume where they stopped.
   *
   * @example
   * ```ts ignore
   * proxy.unblock();
   * ```
   */
  unblock(): void {
    if (this.#mode === undefined) return;
    this.#mode = undefined;
    this.#open();
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
    this.#open();
    shutDown(this.#listener, this.#pipes);
  }

  #accept(client: Deno.TcpConn): void {
    if (this.#mode === "drop") return client.close();
    const pipe: Pipe = { client, closed: false };
    this.#pipes.add(pipe);
    void this.#connect(pipe);
  }

  async #connect(pipe: Pipe): Promise<void> {
    // A connection made during a stall waits, like a SYN that gets through only after healing.
    await this.#opened;
    if (pipe.closed) return;
    try {
      pipe.upstream = await Deno.connect(this.#target);
    } catch {
      closePipe(this.#pipes, pipe); // the target is down: the sender sees its connection closed
      return;
    }
    if (pipe.closed) {
      pipe.upstream.close();
      return;
    }
    await Promise.all([
      this.#pump(pipe, pipe.client, pipe.upstream, () => this.#forwardDelayMs),
      this.#pump(pipe, pipe.upstream, pipe.client, () => this.#backwardDelayMs),
    ]);
  }

  async #pump(
    pipe: Pipe,
    from: Deno.TcpConn,
    to: Deno.TcpConn,
    delayMs: () => number,
  ): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    // Delayed chunks, each with the time it may go; a writer sends them in order.
    const queue: { due: number; bytes: Uint8Array }[] = [];
    let wake: (() => void) | undefined;
    let writer: Promise<void> | undefined;
    let ended = false;
    const drain = async () => {
      while (!pipe.closed) {
        const head = queue[0];
        if (!head) {
          if (ended) break;
          await new Promise<void>((resolve) => wake = resolve);
          continue;
        }
        const wait = head.due - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        await this.#opened;
        if (pipe.closed) break;
        await writeAll(to, head.bytes);
        queue.shift();
      }
    };
    try {
      while (!pipe.closed) {
        const n = await from.read(buffer);
        if (n === null) break;
        // Bytes read while the link is cut are held until it heals (or the pipe is dropped).
        await this.#opened;
        if (pipe.closed) break;
        const ms = delayMs();
        if (ms === 0 && queue.length === 0) {
          await writeAll(to, buffer.subarray(0, n));
          continue;
        }
        // Never earlier than what is queued before it, should the delay have shrunk.
        const due = Math.max(performance.now() + ms, queue.at(-1)?.due ?? 0);
        queue.push({ due, bytes: buffer.slice(0, n) });
        writer ??= drain().catch(() => closePipe(this.#pipes, pipe));
        wake?.();
        wake = undefined;
      }
      // What is still queued goes out before the end is passed on.
      ended = true;
      wake?.();
      await writer;
    } catch {
      // a side was reset or closed: end the whole pipe
    }
    closePipe(this.#pipes, pipe);
  }
}
