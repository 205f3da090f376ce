/**
 * Raw HTTP/1.1 over a loopback socket, for tests that must send what `fetch` would not (paths
 * with `..`, header floods, a head dribbled byte by byte) and see exactly what comes back.
 *
 * @module
 */

/**
 * An answer read off a raw socket.
 *
 * @example
 * ```ts
 * import type { RawAnswer } from "./raw_http.ts";
 * const ok = (a: RawAnswer) => a.status === 200;
 * ```
 */
export interface RawAnswer {
  status: number;
  /** Header names in lower case. */
  headers: Map<string, string>;
  body: string;
  // deno-lint-ignore no-explicit-any
  json: any;
}

const encoder = new TextEncoder();

/**
 * Parses the first answer in `text` (a `content-length` body, or everything after the head).
 *
 * @example
 * ```ts
 * import { parseAnswer } from "./raw_http.ts";
 * parseAnswer("HTTP/1.1 204 No Content\r\n\r\n").status; // 204
 * ```
 */
export function parseAnswer(text: string): RawAnswer {
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) throw new Error(`no answer head in ${JSON.stringify(text.slice(0, 200))}`);
  const [statusLine, ...lines] = text.slice(0, end).split("\r\n");
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const length = headers.get("content-length");
  const rest = text.slice(end + 4);
  const body = length === undefined ? rest : rest.slice(0, Number(length));
  const type = headers.get("content-type") ?? "";
  return {
    status: Number(statusLine.split(" ")[1]),
    headers,
    body,
    json: type.includes("json") && body !== "" ? JSON.parse(body) : undefined,
  };
}

/**
 * A raw connection to a loopback server.
 *
 * @example
 * ```ts ignore
 * const c = await RawConnection.open(port);
 * await c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
 * const answer = await c.answer(5000);
 * c.close();
 * ```
 */
export class RawConnection {
  #text = "";
  #closed = false;
  #closedAt: number | undefined;
  #reading: Promise<void>;

  private constructor(readonly conn: Deno.Conn) {
    this.#reading = this.#read();
  }

  /** Connects to 127.0.0.1:`port`. */
  static async open(port: number): Promise<RawConnection> {
    return new RawConnection(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  async #read(): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    const decoder = new TextDecoder();
    try {
      while (true) {
        const n = await this.conn.read(buffer);
        if (n === null) break;
        this.#text += decoder.decode(buffer.subarray(0, n), { stream: true });
      }
    } catch {
      // a reset: the server closed with unread bytes
    }
    this.#closed = true;
    this.#closedAt = Date.now();
  }

  /** Everything received so far. */
  get text(): string {
    return this.#text;
  }

  /** Whether the server closed the connection. */
  get closed(): boolean {
    return this.#closed;
  }

  /** When the server closed it (ms since the epoch). */
  get closedAt(): number | undefined {
    return this.#closedAt;
  }

  /** Sends bytes; false when the server had closed the connection. */
  async send(data: string | Uint8Array): Promise<boolean> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    try {
      let at = 0;
      while (at < bytes.byteLength) at += await this.conn.write(bytes.subarray(at));
      return true;
    } catch {
      return false;
    }
  }

  /** Waits until `done(text)` holds or the server closes, with a deadline; returns the text. */
  async until(done: (text: string) => boolean, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!done(this.#text) && !this.#closed) {
      if (Date.now() > deadline) {
        throw new Error(
          `no expected answer in ${timeoutMs} ms: ${this.#text.slice(0, 200)} ... ${
            this.#text.slice(-300)
          }`,
        );
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.#text;
  }

  /** Waits for the server to close the connection, with a deadline. */
  async waitClosed(timeoutMs: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the server did not close the connection in ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([this.#reading, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes our side. */
  close(): void {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }

  /** Closes and waits for the reader to stop (so no op leaks past a test). */
  async dispose(): Promise<void> {
    this.close();
    await this.#reading;
  }
}

/**
 * Sends one request on a fresh connection and reads until the server closes it or one whole
 * answer (by `content-length`) arrived.
 *
 * @example
 * ```ts ignore
 * const a = await rawRequest(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
 * ```
 */
export async function rawRequest(
  port: number,
  request: string | Uint8Array,
  timeoutMs = 10_000,
): Promise<RawAnswer> {
  const c = await RawConnection.open(port);
  try {
    await c.send(request);
    const text = await c.until(wholeAnswer, timeoutMs);
    return parseAnswer(text);
  } finally {
    await c.dispose();
  }
}

/**
 * Whether `text` holds one whole answer with a `content-length` body.
 *
 * @example
 * ```ts
 * import { wholeAnswer } from "./raw_http.ts";
 * wholeAnswer("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"); // true
 * ```
 */
export function wholeAnswer(text: string): boolean {
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) return false;
  const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end + 2));
  if (length === null) return false;
  return text.length >= end + 4 + Number(length[1]);
}
