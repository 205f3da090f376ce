/**
 * One long-lived WebSocket from this node to a peer's `GET /raft/v1/stream`, carrying batches
 * of Raft messages one way (each binary frame is one batch, the same bytes a
 * `POST /raft/v1/messages` body holds). The peer answers over its own stream to us.
 *
 * Why a stream: on a 2-core machine the request-per-batch path spent most of a write's CPU in
 * HTTP machinery (a request, a response, their headers and promises on both sides), ~6 times
 * per write. A frame on an open socket costs a small fraction of that (`bench/README.md`).
 *
 * Frames carry no acknowledgement; Raft needs none (it retransmits from its own state). A peer
 * that stops reading shows up as bytes piling up in the socket, which the link watches.
 *
 * @module
 */

/**
 * What a stream tells its owner.
 *
 * @example
 * ```ts
 * import type { PeerStreamEvents } from "./peer_stream.ts";
 * const events: PeerStreamEvents = { onOpen: () => {}, onClose: (reason) => console.log(reason) };
 * ```
 */
export interface PeerStreamEvents {
  /** The socket is open: frames may be sent. */
  onOpen(): void;
  /** The socket closed or failed without `close()` being called. Called once. */
  onClose(reason: string): void;
}

/**
 * The client side of a message stream.
 *
 * @example
 * ```ts ignore
 * const stream = new PeerStream("ws://127.0.0.1:7102/raft/v1/stream", headers, events);
 * stream.connect();
 * // ... once events.onOpen() was called:
 * stream.send(frame);
 * await stream.close();
 * ```
 */
export class PeerStream {
  #socket?: WebSocket;
  #closedByUs = false;

  /** `connectTimeoutMs`: an upgrade not answered within it counts as a failure. */
  constructor(
    readonly url: string,
    private readonly headers: Record<string, string>,
    private readonly events: PeerStreamEvents,
    private readonly connectTimeoutMs = 5_000,
  ) {}

  /** Whether frames can be sent now. */
  get open(): boolean {
    return this.#socket?.readyState === WebSocket.OPEN;
  }

  /** Whether a connection is being opened or is open. */
  get active(): boolean {
    return this.#socket !== undefined;
  }

  /** Bytes handed to `send` that the socket has not written out yet. */
  get bufferedAmount(): number {
    return this.#socket?.bufferedAmount ?? 0;
  }

  /** Opens the socket; `onOpen` or `onClose` follows. */
  connect(): void {
    if (this.#socket || this.#closedByUs) return;
    let socket: WebSocket;
    try {
      // Deno lets a WebSocket carry headers: the cluster secret goes where HTTP puts it.
      socket = new WebSocket(this.url, { headers: this.headers } as unknown as string[]);
    } catch (e) {
      queueMicrotask(() => this.events.onClose(String(e)));
      return;
    }
    socket.binaryType = "arraybuffer";
    this.#socket = socket;
    // A peer that accepts the connection but never answers the upgrade (a stalled link) would
    // otherwise hold the stream in CONNECTING for as long as TCP keeps trying.
    const timer = setTimeout(() => {
      end(`no answer to the upgrade within ${this.connectTimeoutMs} ms`);
      closeQuietly(socket);
    }, this.connectTimeoutMs);
    const end = (reason: string) => {
      clearTimeout(timer);
      // After reset() or close() the socket is no longer ours, and its end no news.
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      this.events.onClose(reason);
    };
    socket.onopen = () => {
      clearTimeout(timer);
      if (this.#socket === socket) this.events.onOpen();
    };
    socket.onerror = (e) => {
      end((e as ErrorEvent).message || "the stream failed");
      closeQuietly(socket);
    };
    socket.onclose = (e) => end(`the stream closed (${e.code}${e.reason ? ` ${e.reason}` : ""})`);
    // The peer never sends on this socket; anything it does send is ignored.
    socket.onmessage = () => {};
  }

  /** Sends one frame; the caller checks `open` first. */
  send(frame: Uint8Array): void {
    this.#socket?.send(frame as Uint8Array<ArrayBuffer>);
  }

  /** Drops the socket so that the next `connect()` starts afresh; no `onClose` follows. */
  reset(): void {
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket) closeQuietly(socket);
  }

  /** Closes the socket for good and waits until it is closed. */
  async close(): Promise<void> {
    this.#closedByUs = true;
    const socket = this.#socket;
    this.#socket = undefined;
    if (!socket || socket.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((resolve) =>
      socket.addEventListener("close", () => resolve())
    );
    closeQuietly(socket);
    // A peer that never answers the closing handshake must not hold up shutdown.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([closed, new Promise<void>((r) => timer = setTimeout(r, 1000))]);
    clearTimeout(timer);
  }
}

function closeQuietly(socket: WebSocket): void {
  try {
    socket.close();
  } catch {
    // Already closing.
  }
}
