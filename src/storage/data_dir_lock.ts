/**
 * One owner per data directory. Two nodes writing one Raft log would each believe its own
 * history, so the second `open` is refused.
 *
 * The lock is an OS advisory lock (`flock`) on `<dataDir>/LOCK`, taken without blocking. The
 * kernel drops it when the process dies, even by SIGKILL, so a restart never finds a stale lock;
 * the pid written into the file only serves the error message.
 *
 * @module
 */

import { join } from "node:path";

/**
 * The name of the lock file inside a data directory.
 *
 * @example
 * ```ts
 * import { LOCK_FILE_NAME } from "./data_dir_lock.ts";
 * const lockPath = `/var/lib/edgeraft/${LOCK_FILE_NAME}`;
 * ```
 */
export const LOCK_FILE_NAME = "LOCK";

/**
 * Thrown when another process (or another `open` in this process) owns the data directory.
 *
 * @example
 * ```ts
 * import { DataDirLockedError } from "./data_dir_lock.ts";
 * const error = new DataDirLockedError("/var/lib/edgeraft", 1234);
 * error.message; // "data directory /var/lib/edgeraft is locked by process 1234"
 * ```
 */
export class DataDirLockedError extends Error {
  /** The directory that could not be locked. */
  readonly dataDir: string;
  /** The pid recorded by the holder, when it could be read. */
  readonly holderPid: number | undefined;

  /** Builds the message from the directory and the holder's pid. */
  constructor(dataDir: string, holderPid: number | undefined) {
    const holder = holderPid === undefined ? "another process" : `process ${holderPid}`;
    super(`data directory ${dataDir} is locked by ${holder}`);
    this.name = "DataDirLockedError";
    this.dataDir = dataDir;
    this.holderPid = holderPid;
  }
}

/**
 * Thrown when the data directory cannot be used at all: its path is a file, it lies under a
 * file, or the process may not create or write it. The message names the directory and why, in
 * words for the operator (the node prints it as its one line before exiting with code 2).
 *
 * @example
 * ```ts
 * import { DataDirUnusableError } from "./data_dir_lock.ts";
 * const error = new DataDirUnusableError("/srv/edgeraft", "it is a file, not a directory");
 * error.message; // "data directory /srv/edgeraft cannot be used: it is a file, not a directory"
 * ```
 */
export class DataDirUnusableError extends Error {
  /** The directory that could not be used. */
  readonly dataDir: string;

  /** Builds the message from the directory and the reason. */
  constructor(dataDir: string, reason: string, options?: ErrorOptions) {
    super(`data directory ${dataDir} cannot be used: ${reason}`, options);
    this.name = "DataDirUnusableError";
    this.dataDir = dataDir;
  }
}

/**
 * An exclusive lock on a data directory, held until `release()` or the death of the process.
 *
 * @example
 * ```ts
 * import { DataDirLock } from "./data_dir_lock.ts";
 * const dir = await Deno.makeTempDir();
 * const lock = await DataDirLock.acquire(dir);
 * lock.release();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class DataDirLock {
  readonly #file: Deno.FsFile;

  private constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  /**
   * Creates `dataDir` if needed and locks it, or throws `DataDirLockedError` at once (it never
   * waits for the holder). A path that cannot be a writable directory throws
   * `DataDirUnusableError`.
   */
  static async acquire(dataDir: string): Promise<DataDirLock> {
    await usable(dataDir, () => Deno.mkdir(dataDir, { recursive: true }));
    const path = join(dataDir, LOCK_FILE_NAME);
    // No truncate on open: until we hold the lock the pid in the file is the holder's.
    const file = await usable(
      dataDir,
      () => Deno.open(path, { read: true, write: true, create: true }),
    );
    let locked = false;
    try {
      locked = await file.tryLock(true);
    } finally {
      if (!locked) file.close();
    }
    if (!locked) throw new DataDirLockedError(dataDir, await readHolderPid(path));
    try {
      // A second descriptor is fine: flock belongs to the first one and outlives this write.
      await Deno.writeTextFile(path, `${Deno.pid}\n`);
    } catch (error) {
      new DataDirLock(file).release();
      throw error;
    }
    return new DataDirLock(file);
  }

  /** Unlocks the directory. Calling it again does nothing. */
  release(): void {
    try {
      // Unlock before closing. The flock belongs to the open file description, and a child
      // process that another part of this process is spawning holds a copy of every descriptor
      // between its fork and its exec: closing ours alone would leave the directory locked until
      // that exec, and a reopen right after a close could find it taken.
      this.#file.unlockSync();
      this.#file.close();
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    }
  }
}

/**
 * Runs one step of preparing `dataDir`, turning the file-system errors an operator causes (a
 * file in the way, no permission) into `DataDirUnusableError`; other errors pass unchanged.
 */
async function usable<T>(dataDir: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    const reason = await unusableReason(dataDir, error);
    if (reason === undefined) throw error;
    throw new DataDirUnusableError(dataDir, reason, { cause: error });
  }
}

async function unusableReason(dataDir: string, error: unknown): Promise<string | undefined> {
  if (!(error instanceof Error)) return undefined;
  switch (error.name) {
    case "PermissionDenied": // EACCES, and EPERM (an immutable directory, a read-only mount)
      return `no permission to create or write it (${error.message})`;
    case "AlreadyExists": // mkdir over a file
    case "NotADirectory": { // mkdir under a file
      const info = await Deno.stat(dataDir).catch(() => undefined);
      if (info !== undefined && !info.isDirectory) return "it is a file, not a directory";
      return "a part of its path is a file, not a directory";
    }
    case "NotFound": // a parent vanished mid-mkdir, or a file system that takes no new entries
      return `it cannot be created (${error.message})`;
    default:
      return undefined;
  }
}

async function readHolderPid(path: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt(await Deno.readTextFile(path), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined; // the holder is mid-write or gone; the message just omits the pid
  }
}
