/**
 * A structural pre-check of msgpack bytes, run before `@msgpack/msgpack` decodes a peer's body.
 *
 * The decoder allocates `new Array(n)` for an array header before it has seen a single element,
 * and it follows nesting without a depth limit: a few kilobytes of nested `array32` headers
 * would make it allocate gigabytes. This scan walks the tokens without building anything and
 * refuses what the peer wire format never contains (maps, strings, floats, extensions), arrays
 * that claim more elements than bytes remain, nesting deeper than the format needs, truncated
 * input and trailing bytes. What passes can be decoded with memory bounded by the input size.
 *
 * @module
 */

/**
 * Why a msgpack body failed the structural pre-check.
 *
 * @example
 * ```ts
 * import { checkMsgpackShape, MsgpackShapeError } from "./msgpack_guard.ts";
 * try {
 *   checkMsgpackShape(new Uint8Array([0x80]), 4); // a map
 * } catch (e) {
 *   console.log(e instanceof MsgpackShapeError); // true
 * }
 * ```
 */
export class MsgpackShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MsgpackShapeError";
  }
}

/**
 * Checks that `bytes` hold exactly one msgpack value made only of arrays, nil, booleans,
 * integers and binary strings, nested at most `maxDepth` arrays deep. Throws
 * `MsgpackShapeError` with the offset and the reason otherwise.
 *
 * @example
 * ```ts
 * import { checkMsgpackShape } from "./msgpack_guard.ts";
 * checkMsgpackShape(new Uint8Array([0x92, 0x01, 0xc0]), 1); // [1, nil]: fine
 * ```
 */
export function checkMsgpackShape(bytes: Uint8Array, maxDepth: number): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.byteLength;
  // Elements still to read in each open array; the bottom slot is the single top-level value.
  const pending: number[] = [1];
  let pos = 0;

  const need = (n: number, what: string): void => {
    if (end - pos < n) {
      throw new MsgpackShapeError(`truncated input: ${what} at byte ${pos} needs ${n} byte(s)`);
    }
  };
  const openArray = (size: number, at: number): void => {
    // Every element takes at least one byte, so a larger claim is a lie (or truncation).
    if (size > end - pos) {
      throw new MsgpackShapeError(
        `array at byte ${at} claims ${size} elements but only ${end - pos} byte(s) remain`,
      );
    }
    if (pending.length > maxDepth) {
      throw new MsgpackShapeError(`arrays nested deeper than ${maxDepth} at byte ${at}`);
    }
    pending.push(size);
  };
  const skipBinary = (size: number, at: number): void => {
    if (size > end - pos) {
      throw new MsgpackShapeError(
        `binary at byte ${at} claims ${size} byte(s) but only ${end - pos} remain`,
      );
    }
    pos += size;
  };

  while (pending.length > 0) {
    const top = pending.length - 1;
    if (pending[top] === 0) {
      pending.pop();
      continue;
    }
    pending[top]--;
    need(1, "a value");
    const at = pos;
    const b = bytes[pos++];
    if (b <= 0x7f || b >= 0xe0) continue; // positive or negative fixint
    if (b >= 0x90 && b <= 0x9f) {
      openArray(b & 0x0f, at);
      continue;
    }
    switch (b) {
      case 0xc0: // nil
      case 0xc2: // false
      case 0xc3: // true
        continue;
      case 0xcc: // uint8
      case 0xd0: // int8
        need(1, "an integer");
        pos += 1;
        continue;
      case 0xcd:
      case 0xd1:
        need(2, "an integer");
        pos += 2;
        continue;
      case 0xce:
      case 0xd2:
        need(4, "an integer");
        pos += 4;
        continue;
      case 0xcf:
      case 0xd3:
        need(8, "an integer");
        pos += 8;
        continue;
      case 0xc4: // bin8
        need(1, "a binary length");
        pos += 1;
        skipBinary(view.getUint8(pos - 1), at);
        continue;
      case 0xc5: // bin16
        need(2, "a binary length");
        pos += 2;
        skipBinary(view.getUint16(pos - 2), at);
        continue;
      case 0xc6: // bin32
        need(4, "a binary length");
        pos += 4;
        skipBinary(view.getUint32(pos - 4), at);
        continue;
      case 0xdc: // array16
        need(2, "an array length");
        pos += 2;
        openArray(view.getUint16(pos - 2), at);
        continue;
      case 0xdd: // array32
        need(4, "an array length");
        pos += 4;
        openArray(view.getUint32(pos - 4), at);
        continue;
      default:
        throw new MsgpackShapeError(`unexpected ${tokenKind(b)} at byte ${at}`);
    }
  }
  if (pos !== end) throw new MsgpackShapeError(`${end - pos} trailing byte(s) after the value`);
}

/** Names a token the wire format never uses, for the error message. */
function tokenKind(b: number): string {
  if ((b >= 0x80 && b <= 0x8f) || b === 0xde || b === 0xdf) return "map";
  if ((b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb)) return "string";
  if (b === 0xca || b === 0xcb) return "float";
  if (b === 0xc1) return "reserved byte 0xc1";
  return "extension type";
}
