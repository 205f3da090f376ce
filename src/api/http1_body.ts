/**
 * Request bodies for the client port's HTTP/1.1 server (`http1_connection.ts`): read from the
 * connection by `Content-Length` or de-chunked, as the handler asks for them, within the
 * body's deadline.
 *
 * @module
 */

import type { Framing } from "./http1_head.ts";
import { chunkSize } from "./http1_head.ts";

/**
 * What a {@linkcode BodyReader} needs of its connection.
 *
 * @example
 * ```ts ignore
 * const source: BodySource = connection; // a ClientConnection is one
 * ```
 */
export interface BodySource {
  /** Bytes read and not used yet. */
  readonly buffered: Uint8Array;
  /** Drops the first `n` buffered bytes. */
  consume(n: number): void;
  /** Waits for more bytes until `deadline` (ms since the epoch). */
  fill(deadline: number): Promise<"data" | "eof" | "timeout">;
  /** Writes `100 Continue`. */
  sendContinue(): Promise<void>;
}

/**
 * A request body read from the connection as the handler asks for it: by `Content-Length`,
 * or de-chunked, within the body's deadline. The client leaving mid-body, or the deadline,
 * errors the stream, so that the handler's read fails (and the node logs one info line).
 *
 * @example
 * ```ts ignore
 * const reader = new BodyReader(connection, { kind: "chunked" }, Date.now() + 30_000, false,
 *   (failure, detail) => console.log(failure, detail));
 * const request = new Request(url, { method: "PUT", body: reader.stream() });
 * ```
 */
export class BodyReader {
  done = false;
  #left: number;
  #chunked: boolean;
  #timedOut = false;
  /** `Expect: 100-continue` and the continue was not sent yet. */
  waitsForContinue: boolean;

  constructor(
    readonly conn: BodySource,
    framing: Framing,
    readonly deadline: number,
    expectContinue: boolean,
    readonly onFailure: (failure: "timeout" | "malformed", detail: string) => void,
  ) {
    this.#chunked = framing.kind === "chunked";
    this.#left = framing.kind === "length" ? framing.length : 0;
    this.waitsForContinue = expectContinue;
  }

  /** The deadline passed (seen by the sweep): the next read fails. */
  expire(): void {
    this.#timedOut = true;
  }

  stream(): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        try {
          const bytes = await this.next();
          if (bytes === null) controller.close();
          else controller.enqueue(bytes);
        } catch (e) {
          controller.error(e);
        }
      },
    }, { highWaterMark: 0 });
  }

  /** Reads and drops the rest of the body; how that ended. */
  async drain(): Promise<"done" | "eof" | "timeout"> {
    try {
      while (await this.next() !== null) {
        // dropped
      }
      return "done";
    } catch {
      return this.#timedOut ? "timeout" : "eof";
    }
  }

  /** The next bytes of the body, or null at its end; throws when they cannot come. */
  async next(): Promise<Uint8Array | null> {
    if (this.done) return null;
    if (this.waitsForContinue) {
      this.waitsForContinue = false;
      await this.conn.sendContinue();
    }
    if (!this.#chunked) {
      const bytes = await this.#take(this.#left);
      this.#left -= bytes.byteLength;
      if (this.#left === 0) this.done = true;
      return bytes;
    }
    while (true) {
      if (this.#left > 0) {
        const bytes = await this.#take(this.#left);
        this.#left -= bytes.byteLength;
        if (this.#left === 0 && (await this.#line()).byteLength > 2) {
          throw this.#malformed("a chunk longer than its size");
        }
        return bytes;
      }
      const size = chunkSize(await this.#line());
      if (size === undefined) throw this.#malformed("a malformed chunk size");
      if (size > 0) {
        this.#left = size;
        continue;
      }
      // Trailers, dropped, then an empty line.
      while ((await this.#line()).byteLength > 2);
      this.done = true;
      return null;
    }
  }

  #malformed(detail: string): Error {
    this.onFailure("malformed", detail);
    return new Error(detail);
  }

  /** Up to `max` bytes, at least one. */
  async #take(max: number): Promise<Uint8Array> {
    await this.#need(() => this.conn.buffered.byteLength > 0);
    const buf = this.conn.buffered;
    const bytes = buf.slice(0, Math.min(max, buf.byteLength));
    this.conn.consume(bytes.byteLength);
    return bytes;
  }

  /** A line, with its LF. */
  async #line(): Promise<Uint8Array> {
    await this.#need(() => {
      if (this.conn.buffered.indexOf(10) >= 0) return true;
      if (this.conn.buffered.byteLength > 4096) throw this.#malformed("a chunk line is too long");
      return false;
    });
    const buf = this.conn.buffered;
    const line = buf.slice(0, buf.indexOf(10) + 1);
    this.conn.consume(line.byteLength);
    return line;
  }

  async #need(ready: () => boolean): Promise<void> {
    while (!ready()) {
      if (this.#timedOut) throw new Error("the request body did not arrive in time");
      const filled = await this.conn.fill(this.deadline);
      if (filled === "eof") throw new Error("the client went away mid-body");
      if (filled === "timeout") {
        this.#timedOut = true;
        this.onFailure("timeout", "");
        throw new Error("the request body did not arrive in time");
      }
    }
  }
}
