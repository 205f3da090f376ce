/**
 * The frames of a peer stream (`POST /raft/v1/stream` over HTTP/2, `peer_channel.ts`): each is
 * a 4-byte big-endian length, then a 1-byte kind, a 4-byte id and the payload. Batches of Raft
 * messages inside are the msgpack bytes a `POST /raft/v1/messages` body holds (`codec.ts`).
 *
 * Client to server:
 * - `messages` (id 0): a batch; no answer (Raft needs none, it retransmits).
 * - `snapshot` (id n): a batch holding one snapshot chunk; answered by id (204 when delivered).
 * - `call` (id n): a 1-byte method length, the method, the opaque body; answered by id.
 * Server to client:
 * - `answer` (id n): a 2-byte status, then the answer body (a problem detail when >= 400).
 * - `close` (id 0): why the server is ending the stream (a bad frame, a shutdown), as text.
 *
 * Why length-prefixed frames on one long-lived stream rather than a request per message: in
 * Deno 2.9.6 a `node:http2` session that carried more than ~70 streams can abort the process
 * when the peer sends GOAWAY; and a frame costs a fraction of a request's CPU.
 *
 * @module
 */

/**
 * The kinds of frames.
 *
 * @example
 * ```ts
 * import { FrameKind } from "./peer_frames.ts";
 * console.log(FrameKind.call); // 3
 * ```
 */
export const FrameKind = {
  messages: 1,
  snapshot: 2,
  call: 3,
  answer: 4,
  close: 5,
} as const;

/**
 * One of `FrameKind`'s values.
 *
 * @example
 * ```ts
 * import type { FrameKindValue } from "./peer_frames.ts";
 * const k: FrameKindValue = 1;
 * ```
 */
export type FrameKindValue = typeof FrameKind[keyof typeof FrameKind];

/** Length (4) + kind (1) + id (4). */
const HEADER_BYTES = 9;

/**
 * A decoded frame; `payload` is a view into the bytes received (copy it to keep it).
 *
 * @example
 * ```ts
 * import { FrameKind, type PeerFrame } from "./peer_frames.ts";
 * const f: PeerFrame = { kind: FrameKind.messages, id: 0, payload: new Uint8Array() };
 * ```
 */
export interface PeerFrame {
  kind: number;
  id: number;
  payload: Uint8Array;
}

/**
 * Frames `parts` (sent back to back as one payload) as one frame.
 *
 * @example
 * ```ts
 * import { encodeFrame, FrameKind } from "./peer_frames.ts";
 * const f = encodeFrame(FrameKind.messages, 0, [new Uint8Array([0x92, 0x01, 0x90])]);
 * console.log(f.byteLength); // 12
 * ```
 */
export function encodeFrame(
  kind: FrameKindValue,
  id: number,
  parts: readonly Uint8Array[],
): Uint8Array<ArrayBuffer> {
  let size = 0;
  for (const p of parts) size += p.byteLength;
  const out = new Uint8Array(HEADER_BYTES + size);
  const view = new DataView(out.buffer);
  view.setUint32(0, size + 5);
  view.setUint8(4, kind);
  view.setUint32(5, id);
  let at = HEADER_BYTES;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/**
 * The payload of a `call` frame: the method's length, the method, the body.
 *
 * @example
 * ```ts
 * import { callPayload } from "./peer_frames.ts";
 * const [length, method, body] = callPayload("propose", new Uint8Array([7]));
 * console.log(length[0], method.byteLength, body.byteLength); // 7 7 1
 * ```
 */
export function callPayload(method: string, body: Uint8Array): Uint8Array[] {
  const name = new TextEncoder().encode(method);
  if (name.byteLength > 255) throw new TypeError("a call method name is at most 255 bytes");
  return [new Uint8Array([name.byteLength]), name, body];
}

/**
 * Splits a `call` payload, or `undefined` when it is malformed.
 *
 * @example
 * ```ts
 * import { parseCall } from "./peer_frames.ts";
 * console.log(parseCall(new Uint8Array([9]))); // undefined
 * ```
 */
export function parseCall(payload: Uint8Array): { method: string; body: Uint8Array } | undefined {
  if (payload.byteLength < 1 || payload.byteLength < 1 + payload[0]) return undefined;
  const length = payload[0];
  let method: string;
  try {
    method = new TextDecoder("utf-8", { fatal: true }).decode(payload.subarray(1, 1 + length));
  } catch {
    return undefined;
  }
  return { method, body: payload.subarray(1 + length) };
}

/**
 * The payload of an `answer` frame: the status, then the body.
 *
 * @example
 * ```ts
 * import { answerPayload } from "./peer_frames.ts";
 * console.log(answerPayload(204, new Uint8Array())[0]); // Uint8Array [0, 204]
 * ```
 */
export function answerPayload(status: number, body: Uint8Array): Uint8Array[] {
  return [new Uint8Array([status >> 8, status & 0xff]), body];
}

/**
 * Splits an `answer` payload, or `undefined` when it is too short.
 *
 * @example
 * ```ts
 * import { parseAnswer } from "./peer_frames.ts";
 * console.log(parseAnswer(new Uint8Array([0, 200, 1]))); // { status: 200, body: Uint8Array [1] }
 * ```
 */
export function parseAnswer(payload: Uint8Array): { status: number; body: Uint8Array } | undefined {
  if (payload.byteLength < 2) return undefined;
  return { status: (payload[0] << 8) | payload[1], body: payload.subarray(2) };
}

/**
 * A frame that breaks the protocol: too long, too short, or of no known kind. The stream that
 * carried it is closed, and nothing of the frame is delivered.
 *
 * @example
 * ```ts
 * import { FrameError } from "./peer_frames.ts";
 * console.log(new FrameError("frame of 9 bytes").name); // "FrameError"
 * ```
 */
export class FrameError extends Error {
  /** `message`: what was wrong. */
  constructor(message: string) {
    super(message);
    this.name = "FrameError";
  }
}

/**
 * Cuts a byte stream into frames, however the bytes arrive (a frame split over many chunks, or
 * many frames in one chunk). A frame is buffered whole before it is handed on, so its length is
 * checked against `maxFrameBytes` before any of it is kept.
 *
 * @example
 * ```ts
 * import { encodeFrame, FrameKind, FrameReader } from "./peer_frames.ts";
 * const reader = new FrameReader(1024);
 * const bytes = encodeFrame(FrameKind.answer, 7, [new Uint8Array([0, 200])]);
 * console.log(reader.push(bytes.subarray(0, 4)).length, reader.push(bytes.subarray(4))[0].id); // 0 7
 * ```
 */
export class FrameReader {
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  /** The payload length of the frame being read, once its header is in. */
  #need = -1;

  /** `maxFrameBytes`: the largest frame (header included) accepted. */
  constructor(readonly maxFrameBytes: number) {}

  /** Takes the next chunk; returns the frames it completed. Throws `FrameError` on a bad one. */
  push(chunk: Uint8Array): PeerFrame[] {
    const frames: PeerFrame[] = [];
    if (chunk.byteLength === 0) return frames;
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.byteLength;
    for (;;) {
      if (this.#need < 0) {
        if (this.#pendingBytes < HEADER_BYTES) return frames;
        const head = this.#take(4);
        const length = new DataView(head.buffer, head.byteOffset, 4).getUint32(0);
        if (length < 5) throw new FrameError(`frame length ${length} is shorter than its header`);
        if (length + 4 > this.maxFrameBytes) {
          throw new FrameError(`frame of ${length + 4} bytes exceeds ${this.maxFrameBytes}`);
        }
        this.#need = length;
      }
      if (this.#pendingBytes < this.#need) return frames;
      const body = this.#take(this.#need);
      this.#need = -1;
      const kind = body[0];
      if (kind < FrameKind.messages || kind > FrameKind.close) {
        throw new FrameError(`unknown frame kind ${kind}`);
      }
      const id = new DataView(body.buffer, body.byteOffset + 1, 4).getUint32(0);
      frames.push({ kind, id, payload: body.subarray(5) });
    }
  }

  /** Removes `n` bytes from the front of what is pending, copying only across chunks. */
  #take(n: number): Uint8Array {
    const first = this.#pending[0];
    this.#pendingBytes -= n;
    if (first.byteLength >= n) {
      if (first.byteLength === n) this.#pending.shift();
      else this.#pending[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const head = this.#pending[0];
      const used = Math.min(head.byteLength, n - at);
      out.set(head.subarray(0, used), at);
      at += used;
      if (used === head.byteLength) this.#pending.shift();
      else this.#pending[0] = head.subarray(used);
    }
    return out;
  }
}
