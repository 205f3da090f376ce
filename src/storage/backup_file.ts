/**
 * The backup file: a consistent snapshot of the state machine with the Raft position it stands
 * at, as `GET /v1/snapshot` writes it and `--restore-from` / `--join` read it.
 *
 * Layout: the line `EDGERAFT-BACKUP\n`, a 4-byte big-endian header length, the header as JSON
 * (readable with `head -c 400 FILE`), then the state machine snapshot's bytes. The header
 * carries the data's length and SHA-256, so that a truncated or corrupt file is refused before
 * anything is started (docs/operations.md, "Backup and restore").
 *
 * @module
 */

import type { ConfState } from "../raft/types.ts";

const MAGIC = new TextEncoder().encode("EDGERAFT-BACKUP\n");
/** The format written; a reader refuses others. */
const FORMAT = 1;
/** A header larger than this is no header of ours (it holds a few ids and numbers). */
const MAX_HEADER_BYTES = 1 << 20;

/**
 * A consistent snapshot: the state machine's bytes at `index` (applied), the entry's `term`,
 * and the membership at that index.
 *
 * @example
 * ```ts
 * import type { Backup } from "./backup_file.ts";
 * const b: Backup = {
 *   clusterId: "c1", index: 12, term: 2, conf: { voters: [1, 2, 3], learners: [] },
 *   data: new Uint8Array([0x80]),
 * };
 * ```
 */
export interface Backup {
  clusterId: string;
  index: number;
  term: number;
  conf: ConfState;
  data: Uint8Array;
}

/**
 * A backup as read from a file: with the SHA-256 of its data, checked against the header.
 *
 * @example
 * ```ts
 * import type { ReadBackup } from "./backup_file.ts";
 * const checksum = (b: ReadBackup) => b.sha256;
 * ```
 */
export interface ReadBackup extends Backup {
  sha256: string;
}

/** The header as the file holds it. */
interface BackupHeader {
  format: number;
  clusterId: string;
  index: number;
  term: number;
  conf: ConfState;
  dataBytes: number;
  sha256: string;
  createdAt: string;
}

/**
 * A file that is no backup, or a damaged one; the message is one line that says which.
 *
 * @example
 * ```ts
 * import { BackupFileError, decodeBackup } from "./backup_file.ts";
 * try {
 *   await decodeBackup(new Uint8Array([1, 2, 3]));
 * } catch (e) {
 *   console.log(e instanceof BackupFileError); // true
 * }
 * ```
 */
export class BackupFileError extends Error {
  override name = "BackupFileError";
}

/**
 * The SHA-256 of `data`, in hex: the backup's checksum, and what cluster ids are derived from.
 *
 * @example
 * ```ts
 * import { sha256Hex } from "./backup_file.ts";
 * console.log((await sha256Hex(new Uint8Array())).slice(0, 8)); // "e3b0c442"
 * ```
 */
export async function sha256Hex(data: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data as BufferSource));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Writes a backup file's bytes.
 *
 * @example
 * ```ts
 * import { decodeBackup, encodeBackup } from "./backup_file.ts";
 * const bytes = await encodeBackup({
 *   clusterId: "c1", index: 3, term: 1, conf: { voters: [1], learners: [] },
 *   data: new Uint8Array([1, 2]),
 * });
 * console.log((await decodeBackup(bytes)).index); // 3
 * ```
 */
export async function encodeBackup(b: Backup, now: Date = new Date()): Promise<Uint8Array> {
  const header: BackupHeader = {
    format: FORMAT,
    clusterId: b.clusterId,
    index: b.index,
    term: b.term,
    conf: { voters: [...b.conf.voters], learners: [...b.conf.learners] },
    dataBytes: b.data.byteLength,
    sha256: await sha256Hex(b.data),
    createdAt: now.toISOString(),
  };
  const json = new TextEncoder().encode(JSON.stringify(header) + "\n");
  const out = new Uint8Array(MAGIC.length + 4 + json.length + b.data.length);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(MAGIC.length, json.length);
  out.set(json, MAGIC.length + 4);
  out.set(b.data, MAGIC.length + 4 + json.length);
  return out;
}

function isIdList(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((id) => Number.isSafeInteger(id) && id > 0);
}

/**
 * Reads a backup file's bytes, checking the layout, the data's length and its checksum.
 * Throws `BackupFileError` (one line) when the file is no backup, truncated or corrupt.
 *
 * @example
 * ```ts
 * import { decodeBackup, encodeBackup } from "./backup_file.ts";
 * const bytes = await encodeBackup({
 *   clusterId: "c1", index: 3, term: 1, conf: { voters: [1], learners: [] },
 *   data: new Uint8Array([1, 2]),
 * });
 * await decodeBackup(bytes.subarray(0, bytes.length - 1)).catch((e) => console.log(e.message));
 * // "the backup is truncated: its header announces 2 bytes of data, the file holds 1"
 * ```
 */
export async function decodeBackup(bytes: Uint8Array): Promise<ReadBackup> {
  const magicOk = bytes.length >= MAGIC.length + 4 && MAGIC.every((b, i) => bytes[i] === b);
  if (!magicOk) throw new BackupFileError("not an edgeraft backup (no EDGERAFT-BACKUP header)");
  const headerBytes = new DataView(bytes.buffer, bytes.byteOffset).getUint32(MAGIC.length);
  const dataAt = MAGIC.length + 4 + headerBytes;
  if (headerBytes > MAX_HEADER_BYTES || dataAt > bytes.length) {
    throw new BackupFileError("the backup is truncated or corrupt: its header is cut short");
  }
  let h: BackupHeader;
  try {
    h = JSON.parse(new TextDecoder().decode(bytes.subarray(MAGIC.length + 4, dataAt)));
  } catch {
    throw new BackupFileError("the backup is corrupt: its header is not JSON");
  }
  const shapeOk = typeof h === "object" && h !== null && h.format === FORMAT &&
    typeof h.clusterId === "string" && Number.isSafeInteger(h.index) && h.index >= 0 &&
    Number.isSafeInteger(h.term) && h.term >= 0 && Number.isSafeInteger(h.dataBytes) &&
    typeof h.sha256 === "string" && typeof h.conf === "object" && h.conf !== null &&
    isIdList(h.conf.voters) && isIdList(h.conf.learners);
  if (!shapeOk) {
    throw new BackupFileError(`the backup's header is not one this version reads (format 1)`);
  }
  const data = bytes.subarray(dataAt);
  if (data.length < h.dataBytes) {
    throw new BackupFileError(
      `the backup is truncated: its header announces ${h.dataBytes} bytes of data, ` +
        `the file holds ${data.length}`,
    );
  }
  if (data.length > h.dataBytes) {
    throw new BackupFileError(
      `the backup is corrupt: ${data.length - h.dataBytes} bytes follow its data`,
    );
  }
  if (await sha256Hex(data) !== h.sha256) {
    throw new BackupFileError("the backup is corrupt: its data does not match its SHA-256");
  }
  return {
    clusterId: h.clusterId,
    index: h.index,
    term: h.term,
    conf: h.conf,
    data,
    sha256: h.sha256,
  };
}
