/**
 * Walking msgpack bytes without building values: where the value at a position ends, and the
 * length in an array or map header. A large snapshot is decoded one record at a time with it
 * (`snapshot.ts`), so that no single step of restoring it holds the event loop for long.
 *
 * @module
 */

/**
 * The bytes do not hold a complete msgpack value where one was expected.
 *
 * @example
 * ```ts
 * import { MsgpackCursor, TruncatedMsgpackError } from "./msgpack_cursor.ts";
 * try {
 *   new MsgpackCursor(new Uint8Array([0x92, 0x01])).skip();
 * } catch (error) {
 *   console.log(error instanceof TruncatedMsgpackError); // true
 * }
 * ```
 */
export class TruncatedMsgpackError extends TypeError {
  override name = "TruncatedMsgpackError";
}

/** Bytes after the type byte that carry a length or a value, by type byte (0xc4..0xdf). */
function fixedWidth(type: number): number {
  switch (type) {
    case 0xc0: // nil
    case 0xc2: // false
    case 0xc3: // true
      return 0;
    case 0xcc: // uint 8
    case 0xd0: // int 8
      return 1;
    case 0xcd: // uint 16
    case 0xd1: // int 16
      return 2;
    case 0xca: // float 32
    case 0xce: // uint 32
    case 0xd2: // int 32
      return 4;
    case 0xcb: // float 64
    case 0xcf: // uint 64
    case 0xd3: // int 64
      return 8;
    case 0xd4: // fixext 1 (type byte + data)
      return 2;
    case 0xd5: // fixext 2
      return 3;
    case 0xd6: // fixext 4
      return 5;
    case 0xd7: // fixext 8
      return 9;
    case 0xd8: // fixext 16
      return 17;
    default:
      return -1;
  }
}

/**
 * A read position in msgpack bytes.
 *
 * @example
 * ```ts
 * import { encode } from "@msgpack/msgpack";
 * import { MsgpackCursor } from "./msgpack_cursor.ts";
 * const cursor = new MsgpackCursor(encode([[1, 2], "x"]));
 * cursor.arrayHeader(); // 2
 * const start = cursor.pos;
 * cursor.skip(); // past [1, 2]
 * cursor.pos - start; // 3
 * ```
 */
export class MsgpackCursor {
  readonly bytes: Uint8Array;
  /** Where the next value starts. */
  pos: number;
  #view: DataView;

  constructor(bytes: Uint8Array, pos = 0) {
    this.bytes = bytes;
    this.pos = pos;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Whether every byte was read. */
  get atEnd(): boolean {
    return this.pos >= this.bytes.byteLength;
  }

  /** Reads an array header and returns its length; throws `TypeError` for anything else. */
  arrayHeader(): number {
    const type = this.#byte(this.pos);
    if (type >= 0x90 && type <= 0x9f) {
      this.pos += 1;
      return type & 0x0f;
    }
    if (type === 0xdc) return this.#length(2);
    if (type === 0xdd) return this.#length(4);
    throw new TypeError(`expected a msgpack array at byte ${this.pos}`);
  }

  /** Reads a map header and returns its number of pairs; throws `TypeError` for anything else. */
  mapHeader(): number {
    const type = this.#byte(this.pos);
    if (type >= 0x80 && type <= 0x8f) {
      this.pos += 1;
      return type & 0x0f;
    }
    if (type === 0xde) return this.#length(2);
    if (type === 0xdf) return this.#length(4);
    throw new TypeError(`expected a msgpack map at byte ${this.pos}`);
  }

  /** Moves past the next value (however deeply nested) and returns the bytes it spans. */
  skip(): Uint8Array {
    const start = this.pos;
    let pending = 1; // values still to pass, counting the elements of open containers
    while (pending > 0) {
      pending--;
      const type = this.#byte(this.pos);
      if (type <= 0x7f || type >= 0xe0) {
        this.pos += 1; // fixint
      } else if (type <= 0x8f) {
        this.pos += 1;
        pending += 2 * (type & 0x0f);
      } else if (type <= 0x9f) {
        this.pos += 1;
        pending += type & 0x0f;
      } else if (type <= 0xbf) {
        this.#advance(1 + (type & 0x1f)); // fixstr
      } else if (type === 0xdc || type === 0xdd) {
        pending += this.#length(type === 0xdc ? 2 : 4);
      } else if (type === 0xde || type === 0xdf) {
        pending += 2 * this.#length(type === 0xde ? 2 : 4);
      } else if (type === 0xc4 || type === 0xd9) {
        this.#advance(this.#length(1)); // bin 8, str 8
      } else if (type === 0xc5 || type === 0xda) {
        this.#advance(this.#length(2));
      } else if (type === 0xc6 || type === 0xdb) {
        this.#advance(this.#length(4));
      } else if (type >= 0xc7 && type <= 0xc9) {
        const n = this.#length(type === 0xc7 ? 1 : type === 0xc8 ? 2 : 4); // ext
        this.#advance(1 + n);
      } else {
        const width = fixedWidth(type);
        if (width < 0) throw new TypeError(`byte ${this.pos} is not a msgpack type (0xc1)`);
        this.#advance(1 + width);
      }
    }
    return this.bytes.subarray(start, this.pos);
  }

  #byte(at: number): number {
    if (at >= this.bytes.byteLength) {
      throw new TruncatedMsgpackError(`msgpack ends at byte ${at}, inside a value`);
    }
    return this.bytes[at];
  }

  /** Reads the big-endian length of `width` bytes after the type byte and moves past both. */
  #length(width: 1 | 2 | 4): number {
    const at = this.pos + 1;
    if (at + width > this.bytes.byteLength) {
      throw new TruncatedMsgpackError(`msgpack ends at byte ${at}, inside a length`);
    }
    this.pos = at + width;
    if (width === 1) return this.#view.getUint8(at);
    if (width === 2) return this.#view.getUint16(at);
    return this.#view.getUint32(at);
  }

  #advance(n: number): void {
    if (this.pos + n > this.bytes.byteLength) {
      throw new TruncatedMsgpackError(
        `msgpack ends at byte ${this.bytes.byteLength}, not ${this.pos + n}`,
      );
    }
    this.pos += n;
  }
}
