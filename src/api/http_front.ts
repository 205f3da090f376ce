/**
 * The client port's connection layer: a small HTTP/1.1 front in front of `Deno.serve`.
 *
 * Why it exists: `Deno.serve` (hyper underneath) in Deno 2.9.6 has no header-read, idle, body
 * or write timeouts (measured: a connection that sends nothing, a request head dribbled a byte
 * a second, a keep-alive connection after its answer, and a body dribbled a byte a second were
 * all still open after 65 s), exposes no option to set them, answers a head of more than 100
 * header lines or about 90 KB with a bare `400` and no body, and has no public API to hand it a
 * connection whose first bytes were already read. So this module owns the socket:
 *
 * - it accepts client connections itself (`Deno.listen`, or `Deno.listenTls`);
 * - reads each request head with a deadline (`headerTimeoutMs`, from the head's first byte)
 *   and a cap (`maxHeaderBytes`, `maxHeaders`), answering `431` or `408` as
 *   `application/problem+json` itself, and a malformed head with `400`;
 * - closes a connection that sends no request for `idleTimeoutMs` (also before the first
 *   one), whose body does not arrive within `bodyTimeoutMs` of its head (`408` when no answer
 *   was started), or that does not take an answer's bytes for `idleTimeoutMs`;
 * - passes each accepted request, unchanged, to `Deno.serve` listening on a Unix socket of its
 *   own (see `backendAddress`), over one keep-alive backend connection per client
 *   connection, and copies the answers back byte for byte (it only watches their framing to
 *   know when no request is under way, which is when the idle timeout runs);
 * - closes the backend connection when the client goes away mid-request, so the handler's
 *   `request.signal` aborts as it would without the front.
 *
 * The layer runs in a worker (`http_front_worker.ts`), so its work uses another core than
 * the handlers and Raft when there is one. The cost: a copy of every byte through JavaScript
 * and a Unix socket hop, about four more I/O operations per request. On the busy 2-core
 * machine it was built on, a one-node stale read took about +0.15 ms at one client and
 * reached a half to a third of the throughput of `Deno.serve` alone at 32 clients (noisy:
 * `Deno.serve` alone moved between 7,500 and 18,000 reads/s across runs). HTTP/1.x only,
 * over TLS too: no ALPN is offered, so clients speak HTTP/1.1 (`Deno.serve` with a
 * certificate would have offered h2, which this layer cannot read).
 *
 * @module
 */

import { ProblemError, type ProblemKind } from "./problem.ts";

/**
 * The connection limits of the client port.
 *
 * @example
 * ```ts
 * import type { ConnectionLimits } from "./http_front.ts";
 * const tight: Partial<ConnectionLimits> = { headerTimeoutMs: 2000, idleTimeoutMs: 5000 };
 * ```
 */
export interface ConnectionLimits {
  /** A request head must arrive whole within this long of its first byte (else 408). */
  headerTimeoutMs: number;
  /**
   * A connection with no request under way is closed after this long without a byte (also
   * before its first request); an answer whose bytes the client does not take for this long
   * ends the connection too.
   */
  idleTimeoutMs: number;
  /** A request body must arrive whole within this long of its head (else 408 and close). */
  bodyTimeoutMs: number;
  /** The request line and headers, in bytes (else 431). */
  maxHeaderBytes: number;
  /** Header lines in one request (else 431). */
  maxHeaders: number;
}

/**
 * The defaults: a head within 10 s, idle connections closed after 30 s, a body within 30 s of
 * its head, heads of at most 16 KiB and 100 header lines.
 *
 * @example
 * ```ts
 * import { DEFAULT_CONNECTION_LIMITS } from "./http_front.ts";
 * DEFAULT_CONNECTION_LIMITS.headerTimeoutMs; // 10000
 * ```
 */
export const DEFAULT_CONNECTION_LIMITS: Readonly<ConnectionLimits> = Object.freeze({
  headerTimeoutMs: 10_000,
  idleTimeoutMs: 30_000,
  bodyTimeoutMs: 30_000,
  maxHeaderBytes: 16 * 1024,
  maxHeaders: 100,
});

/**
 * How to serve the client API.
 *
 * @example
 * ```ts
 * import type { ClientServeOptions } from "./http_front.ts";
 * const options: ClientServeOptions = { hostname: "127.0.0.1", port: 7001 };
 * ```
 */
export interface ClientServeOptions {
  hostname: string;
  port: number;
  /** PEM certificate chain and key: with both, the port speaks HTTPS (HTTP/1.1). */
  cert?: string;
  key?: string;
  /** Overrides of {@linkcode DEFAULT_CONNECTION_LIMITS}. */
  limits?: Partial<ConnectionLimits>;
  /** Called once the port listens, with its address. */
  onListen?: (addr: Deno.NetAddr) => void;
}

/**
 * A running client API server.
 *
 * @example
 * ```ts ignore
 * const server = await serveClientPort({ hostname: "127.0.0.1", port: 7001 }, app.fetch);
 * await server.shutdown();
 * ```
 */
export interface ClientServer {
  /** The address the client port listens on. */
  readonly addr: Deno.NetAddr;
  /** Client connections open right now. */
  connections(): Promise<number>;
  /** Stops accepting, closes every connection, stops the backend. */
  shutdown(): Promise<void>;
}

/**
 * The limits with `overrides` applied. Throws a `RangeError` for a value that is not a
 * positive safe integer.
 *
 * @example
 * ```ts
 * import { resolveConnectionLimits } from "./http_front.ts";
 * resolveConnectionLimits({ idleTimeoutMs: 5000 }).idleTimeoutMs; // 5000
 * ```
 */
export function resolveConnectionLimits(
  overrides: Partial<ConnectionLimits> = {},
): ConnectionLimits {
  const limits = { ...DEFAULT_CONNECTION_LIMITS };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    if (!(name in limits)) throw new RangeError(`unknown connection limit ${name}`);
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`connection limit ${name} must be a positive integer, not ${value}`);
    }
    limits[name as keyof ConnectionLimits] = value;
  }
  return limits;
}

/**
 * Serves `handler` on the client port behind the connection layer (see the module doc). The
 * layer runs in a worker, so that its copying and parsing use another core than the handlers
 * and Raft. Rejects, like `Deno.serve` throws, when the port cannot be bound
 * (`Deno.errors.AddrInUse`, ...).
 *
 * @example
 * ```ts ignore
 * import { serveClientPort } from "./http_front.ts";
 * const server = await serveClientPort(
 *   { hostname: "127.0.0.1", port: 7001, limits: { headerTimeoutMs: 5000 } },
 *   (req) => new Response("hello"),
 * );
 * ```
 */
export async function serveClientPort(
  options: ClientServeOptions,
  handler: Deno.ServeHandler,
): Promise<ClientServer> {
  const limits = resolveConnectionLimits(options.limits);
  const { path, dir } = backendAddress();
  const stopBackend = new AbortController();
  const backend = Deno.serve(
    { path, signal: stopBackend.signal, onListen: () => {} },
    // The peer is always this process; the client's address is not known to the handler.
    (req, info) => handler(req, info),
  );
  const stopBackendNow = async () => {
    stopBackend.abort();
    await backend.finished;
    if (dir !== undefined) Deno.removeSync(dir, { recursive: true });
  };
  const worker = new Worker(new URL("./http_front_worker.ts", import.meta.url), {
    type: "module",
  });
  const replies = new Map<number, (data: FrontReply) => void>();
  let nextId = 0;
  const ask = (message: FrontRequest): Promise<FrontReply> =>
    new Promise((resolve) => {
      const id = ++nextId;
      replies.set(id, resolve);
      worker.postMessage({ ...message, id });
    });
  worker.onmessage = (event: MessageEvent<FrontReply>) => {
    const reply = replies.get(event.data.id);
    replies.delete(event.data.id);
    reply?.(event.data);
  };
  const started = await ask({
    type: "start",
    options: {
      hostname: options.hostname,
      port: options.port,
      cert: options.cert,
      key: options.key,
      limits,
      backendPath: path,
    },
  });
  if (started.type === "error") {
    worker.terminate();
    await stopBackendNow();
    const errors = Deno.errors as unknown as Record<string, new (message: string) => Error>;
    const Class = errors[started.name] ?? Error;
    throw new Class(started.message);
  }
  const addr = (started as { addr: Deno.NetAddr }).addr;
  options.onListen?.(addr);
  let stopped: Promise<void> | undefined;
  return {
    addr,
    async connections() {
      return ((await ask({ type: "connections" })) as { connections: number }).connections;
    },
    shutdown() {
      stopped ??= (async () => {
        await ask({ type: "shutdown" });
        worker.terminate();
        await stopBackendNow();
      })();
      return stopped;
    },
  };
}

/** What the main thread asks of the worker. */
type FrontRequest =
  | { type: "start"; options: FrontOptions }
  | { type: "connections" }
  | { type: "shutdown" };

/** What the worker answers, by the request's `id`. */
type FrontReply =
  & { id: number }
  & (
    | { type: "listening"; addr: Deno.NetAddr }
    | { type: "error"; name: string; message: string }
    | { type: "connections"; connections: number }
    | { type: "closed" }
  );

/**
 * What the connection layer needs: where to listen, its limits, where the backend is.
 *
 * @example
 * ```ts
 * import type { FrontOptions } from "./http_front.ts";
 * import { DEFAULT_CONNECTION_LIMITS } from "./http_front.ts";
 * const o: FrontOptions = {
 *   hostname: "127.0.0.1", port: 7001, limits: { ...DEFAULT_CONNECTION_LIMITS },
 *   backendPath: "/tmp/api.sock",
 * };
 * ```
 */
export interface FrontOptions {
  hostname: string;
  port: number;
  cert?: string;
  key?: string;
  limits: ConnectionLimits;
  backendPath: string;
}

/**
 * The connection layer's accept loop, in the calling thread (the worker, see
 * `http_front_worker.ts`). Throws when the port cannot be bound.
 *
 * @example
 * ```ts ignore
 * const front = startFront({ hostname: "127.0.0.1", port: 7001, limits, backendPath });
 * await front.shutdown();
 * ```
 */
export function startFront(
  options: FrontOptions,
): { addr: Deno.NetAddr; connections: () => number; shutdown: () => Promise<void> } {
  const { limits, backendPath: path } = options;
  const listener: Deno.Listener = options.cert !== undefined && options.key !== undefined
    ? Deno.listenTls({
      hostname: options.hostname,
      port: options.port,
      cert: options.cert,
      key: options.key,
    })
    : Deno.listen({ hostname: options.hostname, port: options.port });
  const open = new Set<Deno.Conn>();
  const fronts = new Set<FrontConnection>();
  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const front of fronts) front.sweep(now);
  }, 1000);
  Deno.unrefTimer(sweeper);
  const accepting = (async () => {
    while (true) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (e) {
        if (e instanceof Deno.errors.BadResource) return; // closed by shutdown
        // Out of file descriptors (EMFILE) or a connection reset before accept: wait a little
        // rather than spin, and keep serving.
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      // Answers are written in pieces (a head, then a stream's events): no Nagle delay.
      if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
      open.add(conn);
      const front = new FrontConnection(conn, path, limits);
      fronts.add(front);
      void front.run().finally(() => {
        open.delete(conn);
        fronts.delete(front);
        try {
          conn.close();
        } catch {
          // already closed
        }
      });
    }
  })();
  return {
    addr: listener.addr as Deno.NetAddr,
    connections: () => open.size,
    async shutdown() {
      try {
        listener.close();
      } catch {
        // already closed
      }
      await accepting;
      clearInterval(sweeper);
      for (const conn of open) {
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
    },
  };
}

/**
 * Where the backend listens. On Linux, a Unix socket in the abstract namespace: nothing on
 * disk to leave behind when the node is killed (fault tests kill nodes by the thousand).
 * Any local process could connect to it, but that only skips this layer's timeouts: the API
 * behind it (tokens, limits) is the same as on the TCP port, which local processes reach
 * anyway. Elsewhere, a socket in a private (0700) temporary directory.
 */
function backendAddress(): { path: string; dir?: string } {
  const name = `edgeraft-api-${Deno.pid}-${crypto.randomUUID()}`;
  if (Deno.build.os === "linux") return { path: `\0${name}` };
  const dir = Deno.makeTempDirSync({ prefix: "edgeraft-api-" });
  return { path: `${dir}/api.sock`, dir };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const READ_SIZE = 16 * 1024;

/** What ended a wait for bytes. */
type Filled = "data" | "eof" | "timeout";

/** The framing of a request body, from its head. */
type Framing = { kind: "none" } | { kind: "length"; length: number } | { kind: "chunked" };

/** A parsed request head. */
interface Head {
  method: string;
  /** The head as sent: it goes to the backend unchanged. */
  bytes: Uint8Array;
  framing: Framing;
  /** The client asked for the connection to end after this answer. */
  close: boolean;
}

/** A request the front answers itself. */
class FrontProblem extends Error {
  constructor(readonly problem: ProblemError) {
    super(problem.detail);
  }
}

function problem(status: number, kind: ProblemKind, detail: string, extra = {}): FrontProblem {
  return new FrontProblem(new ProblemError(status, kind, detail, extra));
}

const REASONS: Record<number, string> = {
  400: "Bad Request",
  408: "Request Timeout",
  431: "Request Header Fields Too Large",
  505: "HTTP Version Not Supported",
};

/**
 * One client connection and its own keep-alive connection to the backend. Requests go to the
 * backend as they were sent (after the head checks); answers come back byte for byte, watched
 * by {@linkcode AnswerWatcher} only to know when each ends, so that the idle timeout runs only
 * while no request is under way.
 */
class FrontConnection {
  /** Bytes read from the client and not yet used. */
  #buf: Uint8Array<ArrayBuffer> = new Uint8Array(0);
  /** The client read under way, if any (one at a time, so no bytes are lost). */
  #reading: Promise<void> | undefined;
  #eof = false;
  #backend: Deno.Conn | undefined;
  /** This side closed the backend connection (it did not close on its own). */
  #closingBackend = false;
  #answers: Promise<void> | undefined;
  #watcher = new AnswerWatcher();
  /** Wakes a wait for the client's next head when the last answer under way ends. */
  #drained = Promise.withResolvers<void>();

  constructor(
    readonly conn: Deno.Conn,
    readonly backendPath: string,
    readonly limits: ConnectionLimits,
  ) {}

  async run(): Promise<void> {
    try {
      while (true) {
        const head = await this.#readHead();
        if (head === undefined) return;
        if (this.#backend === undefined) {
          this.#backend = await Deno.connect({ transport: "unix", path: this.backendPath });
          this.#answers = this.#forwardAnswers(this.#backend);
        }
        this.#watcher.expect(head.method);
        await writeAll(this.#backend, head.bytes);
        const body = await this.#forwardBody(head.framing, this.#backend);
        if (body === "timeout") {
          const answered = this.#watcher.started;
          this.#closeBackend();
          await this.#answers;
          if (answered) return;
          throw problem(
            408,
            "request-timeout",
            `the request body did not arrive within bodyTimeoutMs = ${this.limits.bodyTimeoutMs} ms`,
            { limit: "bodyTimeoutMs" },
          );
        }
        // A client gone mid-body: the backend's read of the body fails, and the request with it.
        if (body === "eof") return;
        if (head.close) {
          // The backend answers and closes; nothing after this request is read.
          await this.#answers;
          return;
        }
      }
    } catch (e) {
      if (e instanceof FrontProblem) {
        // Answers to earlier (pipelined) requests go first.
        if (this.#watcher.pending > 0) await this.#waitDrained();
        await this.#answer(e).catch(() => {});
      }
      // Otherwise the client vanished mid-write or mid-read: nothing to answer.
    } finally {
      // A client that leaves (or idles out) ends its request under way: closing the backend
      // connection aborts the handler's request.signal, as a direct connection would.
      this.#closeBackend();
      await this.#answers;
    }
  }

  #closeBackend(): void {
    this.#closingBackend = true;
    try {
      this.#backend?.close();
    } catch {
      // already closed
    }
  }

  async #waitDrained(): Promise<void> {
    await Promise.race([this.#drained.promise, this.#answers]);
  }

  /** Waits for more client bytes until `deadline` (ms since the epoch; Infinity: none). */
  async #fill(deadline: number): Promise<Filled> {
    if (this.#eof) return "eof";
    this.#reading ??= this.#startRead();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      if (deadline === Infinity) return; // no deadline (timers overflow past 2^31 ms)
      timer = setTimeout(() => resolve("timeout"), Math.max(0, deadline - Date.now()));
    });
    const got = await Promise.race([this.#reading, timeout]);
    clearTimeout(timer);
    // On a timeout the read stays under way: the connection is closed, or its bytes are
    // taken by the next wait.
    if (got === "timeout") return "timeout";
    return this.#eof ? "eof" : "data";
  }

  /**
   * Starts a read of the client into a fresh buffer. The read itself appends what it got (or
   * marks the end), so that several waits on one read never take its bytes twice.
   */
  #startRead(): Promise<void> {
    const buffer = new Uint8Array(READ_SIZE);
    return this.conn.read(buffer).then(
      (n) => {
        this.#reading = undefined;
        if (n === null) this.#eof = true;
        else this.#buf = concat(this.#buf, buffer.subarray(0, n));
      },
      () => {
        this.#reading = undefined;
        this.#eof = true;
      },
    );
  }

  /**
   * Reads one request head: undefined when the client closed or stayed idle between
   * requests; a problem when the head is too large, too slow or malformed.
   */
  async #readHead(): Promise<Head | undefined> {
    const { headerTimeoutMs, idleTimeoutMs, maxHeaderBytes, maxHeaders } = this.limits;
    let headerDeadline = this.#buf.byteLength > 0 ? Date.now() + headerTimeoutMs : undefined;
    while (true) {
      // Empty lines before a request line are allowed (RFC 9112 section 2.2).
      let start = 0;
      while (start < this.#buf.byteLength && (this.#buf[start] === 13 || this.#buf[start] === 10)) {
        start++;
      }
      if (start > 0) this.#buf = this.#buf.subarray(start);
      const end = headEnd(this.#buf);
      const seen = end < 0 ? this.#buf : this.#buf.subarray(0, end);
      if (seen.byteLength > maxHeaderBytes) {
        throw problem(
          431,
          "limit-exceeded",
          `the request head is more than maxHeaderBytes = ${maxHeaderBytes} bytes`,
          { limit: "maxHeaderBytes" },
        );
      }
      // Header lines: not the request line, nor the blank line that ends a whole head.
      const headers = countLines(seen) - 1 - (end >= 0 ? 1 : 0);
      if (headers > maxHeaders) {
        throw problem(
          431,
          "limit-exceeded",
          `the request has more than maxHeaders = ${maxHeaders} header lines`,
          { limit: "maxHeaders" },
        );
      }
      if (end >= 0) {
        const head = parseHead(this.#buf.subarray(0, end));
        this.#buf = this.#buf.subarray(end);
        return head;
      }
      if (this.#buf.byteLength > 0) headerDeadline ??= Date.now() + headerTimeoutMs;
      let deadline: number;
      let idle = false;
      if (headerDeadline !== undefined) deadline = headerDeadline;
      else if (this.#watcher.pending > 0) {
        // An answer is under way (a long poll, a watch): not idle. Look again when it ends.
        this.#drained = Promise.withResolvers<void>();
        const more = this.#fill(Infinity);
        const woke = await Promise.race([more, this.#drained.promise.then(() => "drained")]);
        if (woke === "drained") continue;
        if ((await more) === "eof") return undefined;
        continue;
      } else {
        deadline = this.#watcher.idleSince + idleTimeoutMs;
        idle = true;
      }
      const filled = await this.#fill(deadline);
      if (filled === "eof") {
        if (this.#buf.byteLength === 0) return undefined;
        throw problem(400, "invalid-request", "the connection ended inside a request head");
      }
      if (filled === "timeout") {
        if (idle) {
          if (this.#watcher.pending === 0) return undefined; // idle: close without a word
          continue;
        }
        throw problem(
          408,
          "request-timeout",
          `the request head did not arrive within headerTimeoutMs = ${headerTimeoutMs} ms`,
          { limit: "headerTimeoutMs" },
        );
      }
    }
  }

  /** Copies the request body to the backend, by its framing. */
  async #forwardBody(framing: Framing, backend: Deno.Conn): Promise<"done" | "eof" | "timeout"> {
    if (framing.kind === "none") return "done";
    const deadline = Date.now() + this.limits.bodyTimeoutMs;
    const take = async (n: number): Promise<"done" | "eof" | "timeout"> => {
      while (n > 0) {
        if (this.#buf.byteLength === 0) {
          const filled = await this.#fill(deadline);
          if (filled !== "data") return filled;
        }
        const part = this.#buf.subarray(0, Math.min(n, this.#buf.byteLength));
        this.#buf = this.#buf.subarray(part.byteLength);
        n -= part.byteLength;
        await writeAll(backend, part);
      }
      return "done";
    };
    const line = async (): Promise<Uint8Array | "eof" | "timeout"> => {
      while (true) {
        const at = this.#buf.indexOf(10);
        if (at >= 0) {
          const text = this.#buf.subarray(0, at + 1);
          this.#buf = this.#buf.subarray(at + 1);
          await writeAll(backend, text);
          return text;
        }
        if (this.#buf.byteLength > 4096) {
          throw problem(400, "invalid-request", "a chunk line is too long");
        }
        const filled = await this.#fill(deadline);
        if (filled !== "data") return filled;
      }
    };
    if (framing.kind === "length") return await take(framing.length);
    while (true) {
      const sizeLine = await line();
      if (!(sizeLine instanceof Uint8Array)) return sizeLine;
      const size = chunkSize(sizeLine);
      if (size === undefined) throw problem(400, "invalid-request", "a malformed chunk size");
      if (size === 0) {
        // Trailers, then an empty line.
        while (true) {
          const trailer = await line();
          if (!(trailer instanceof Uint8Array)) return trailer;
          if (trailer.byteLength <= 2 && (trailer[0] === 13 || trailer[0] === 10)) return "done";
        }
      }
      const data = await take(size);
      if (data !== "done") return data;
      const end = await line();
      if (!(end instanceof Uint8Array)) return end;
    }
  }

  /**
   * Copies the backend's answers to the client as they come, one write per read, until the
   * backend closes (it does after an answer marked `Connection: close`); then ends the client
   * connection too.
   */
  async #forwardAnswers(backend: Deno.Conn): Promise<void> {
    const buffer = new Uint8Array(READ_SIZE);
    try {
      while (true) {
        let n: number | null;
        try {
          n = await backend.read(buffer);
        } catch {
          n = null;
        }
        if (n === null) break;
        const chunk = buffer.subarray(0, n);
        const before = this.#watcher.pending;
        this.#watcher.observe(chunk);
        await this.#toClient(chunk);
        if (before > 0 && this.#watcher.pending === 0) this.#drained.resolve();
      }
    } catch {
      // the client took no bytes in time, or is gone
    } finally {
      this.#drained.resolve();
      if (!this.#closingBackend) {
        // The backend closed on its own (after a `Connection: close` answer, or an error):
        // the client connection ends with it.
        try {
          this.conn.close();
        } catch {
          // already closed
        }
      }
    }
  }

  /**
   * Writes to the client. A write under way is timed by the server's sweep (see
   * {@linkcode FrontConnection.sweep}) rather than a timer per write, which showed in the
   * cost of every answer.
   */
  async #toClient(bytes: Uint8Array): Promise<void> {
    this.#writingSince = Date.now();
    try {
      await writeAll(this.conn, bytes);
    } finally {
      this.#writingSince = undefined;
    }
  }

  /** When the write under way started, if one is. */
  #writingSince: number | undefined;

  /**
   * Drops the connection when a write to it has taken no bytes for idleTimeoutMs: a client
   * that stopped reading (its window is full) must not hold the node's answer, nor its file
   * descriptors, for ever. Called every second by the server.
   */
  sweep(now: number): void {
    if (this.#writingSince === undefined) return;
    if (now - this.#writingSince < this.limits.idleTimeoutMs) return;
    this.#closeBackend();
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }

  /** Answers a problem the front found itself and ends the connection. */
  async #answer(e: FrontProblem): Promise<void> {
    const status = e.problem.status;
    const body = encoder.encode(JSON.stringify(e.problem.body()));
    const head = `HTTP/1.1 ${status} ${REASONS[status] ?? "Error"}\r\n` +
      "content-type: application/problem+json\r\n" +
      `content-length: ${body.byteLength}\r\n` +
      "connection: close\r\n\r\n";
    await this.#toClient(concat(encoder.encode(head), body));
  }
}

/** The size in a chunk-size line (`1a;ext=1\r\n`), or undefined when malformed. */
function chunkSize(line: Uint8Array): number | undefined {
  const match = /^([0-9a-fA-F]{1,15})[ \t]*(;[^\r\n]*)?\r?\n$/.exec(decoder.decode(line));
  return match === null ? undefined : parseInt(match[1], 16);
}

/**
 * Watches the backend's answers go by, byte for byte, to know when each one ends: a head, then
 * a body framed by `content-length`, by chunks, or by nothing (HEAD, 1xx, 204, 304).
 */
class AnswerWatcher {
  /** Methods of the requests sent whose answers have not ended, oldest first. */
  #methods: string[] = [];
  #state: "head" | "length" | "chunk-size" | "chunk-data" | "chunk-end" | "trailers" | "raw" =
    "head";
  #line: Uint8Array<ArrayBuffer> = new Uint8Array(0);
  #left = 0;
  /** When the last answer under way ended (or the watcher was made). */
  idleSince = Date.now();
  /** Whether any byte of the oldest pending answer has gone by. */
  started = false;

  /** Requests whose answers have not ended. */
  get pending(): number {
    return this.#methods.length;
  }

  /** A request was sent. */
  expect(method: string): void {
    this.#methods.push(method);
  }

  /** Bytes of answers went by. */
  observe(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.byteLength) {
      if (this.#state === "raw") return; // an upgraded or close-delimited answer: to the end
      if (this.#methods.length === 0) return; // nothing expected: the backend will close
      this.started = true;
      if (this.#state === "length" || this.#state === "chunk-data") {
        const n = Math.min(this.#left, bytes.byteLength - at);
        at += n;
        this.#left -= n;
        if (this.#left > 0) continue;
        if (this.#state === "length") this.#ended();
        else this.#state = "chunk-end";
        continue;
      }
      // Line-oriented states: gather up to the next LF.
      const lf = bytes.indexOf(10, at);
      const end = lf < 0 ? bytes.byteLength : lf + 1;
      this.#line = concat(this.#line, bytes.subarray(at, end));
      at = end;
      if (lf < 0) continue;
      const line = this.#line;
      if (this.#state === "head") {
        if (headEnd(line) < 0) continue; // the head goes on
        this.#line = new Uint8Array(0);
        this.#afterHead(decoder.decode(line));
        continue;
      }
      this.#line = new Uint8Array(0);
      if (this.#state === "chunk-size") {
        const size = chunkSize(line) ?? 0;
        if (size === 0) this.#state = "trailers";
        else {
          this.#state = "chunk-data";
          this.#left = size;
        }
      } else if (this.#state === "chunk-end") {
        this.#state = "chunk-size";
      } else if (this.#state === "trailers") {
        if (line.byteLength <= 2) this.#ended();
      }
    }
  }

  #afterHead(text: string): void {
    const status = Number(text.slice(9, 12));
    if (status >= 100 && status < 200 && status !== 101) return; // interim: the head comes next
    if (status === 101) {
      this.#state = "raw";
      return;
    }
    const method = this.#methods[0];
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(text);
    if (method === "HEAD" || status === 204 || status === 304) this.#ended();
    else if (/\r\ntransfer-encoding:[^\r\n]*chunked/i.test(text)) this.#state = "chunk-size";
    else if (length !== null) {
      this.#left = Number(length[1]);
      if (this.#left === 0) this.#ended();
      else this.#state = "length";
    } else this.#state = "raw"; // delimited by the close
  }

  #ended(): void {
    this.#methods.shift();
    this.#state = "head";
    this.started = false;
    if (this.#methods.length === 0) this.idleSince = Date.now();
  }
}

/** The index just past the blank line ending a head (CRLF CRLF, or bare LFs), or -1. */
function headEnd(buf: Uint8Array): number {
  for (let i = 0; i < buf.byteLength; i++) {
    if (buf[i] !== 10) continue;
    if (buf[i + 1] === 10) return i + 2;
    if (buf[i + 1] === 13 && buf[i + 2] === 10) return i + 3;
  }
  return -1;
}

function countLines(buf: Uint8Array): number {
  let lines = 0;
  for (let i = 0; i < buf.byteLength; i++) if (buf[i] === 10) lines++;
  return lines;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  if (a.byteLength === 0) return b as Uint8Array<ArrayBuffer>;
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a, 0);
  out.set(b, a.byteLength);
  return out;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.byteLength) at += await conn.write(bytes.subarray(at));
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Parses a request head; throws the 400 (or 505) problem for one the front cannot pass on. */
function parseHead(bytes: Uint8Array): Head {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw problem(400, "invalid-request", "the request head is not valid UTF-8");
  }
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  const requestLine = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP\/1\.([01])$/.exec(lines[0]);
  if (requestLine === null) {
    if (/^\S+ \S+ HTTP\/\d/.test(lines[0])) {
      throw problem(505, "invalid-request", "only HTTP/1.0 and HTTP/1.1 are served here");
    }
    throw problem(400, "invalid-request", "a malformed request line");
  }
  const http10 = requestLine[3] === "0";
  let length: number | undefined;
  let chunked = false;
  let connection = "";
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon) : "";
    if (!TOKEN.test(name)) throw problem(400, "invalid-request", "a malformed header line");
    const value = line.slice(colon + 1).trim();
    const lower = name.toLowerCase();
    if (lower === "connection") connection += "," + value.toLowerCase();
    if (lower === "content-length") {
      if (!/^[0-9]{1,15}$/.test(value) || (length !== undefined && length !== Number(value))) {
        throw problem(400, "invalid-request", "Content-Length must be one decimal number");
      }
      length = Number(value);
    }
    if (lower === "transfer-encoding") {
      // Only `chunked` is served, alone: other codings (and lists) are refused here rather
      // than passed on for the backend to frame differently from the front.
      if (value.toLowerCase() !== "chunked" || chunked) {
        throw problem(400, "invalid-request", "Transfer-Encoding must be chunked, once");
      }
      chunked = true;
    }
  }
  if (chunked && length !== undefined) {
    // A message with both is how requests are smuggled past proxies (RFC 9112 section 6.1).
    throw problem(
      400,
      "invalid-request",
      "Content-Length and Transfer-Encoding do not go together",
    );
  }
  const tokens = connection.split(",").map((t) => t.trim());
  const close = tokens.includes("close") || (http10 && !tokens.includes("keep-alive"));
  const framing: Framing = chunked
    ? { kind: "chunked" }
    : length !== undefined && length > 0
    ? { kind: "length", length }
    : { kind: "none" };
  return { method: requestLine[1], bytes, framing, close };
}
