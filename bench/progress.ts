/**
 * Progress on stderr while the bench runs: on a terminal one status line rewritten in place;
 * in a log (CI, a pipe) a status line at most every few seconds, so the log stays readable.
 *
 * @module
 */

const encoder = new TextEncoder();
const LOG_INTERVAL_MS = 3000;

/**
 * The status line and the permanent lines around it.
 *
 * @example
 * ```ts ignore
 * import { Progress } from "./progress.ts";
 * const progress = new Progress();
 * progress.status("put x64 edgeraft 2.0/5 s 7,800 ops/s");
 * progress.line("put x64 edgeraft: 7,812 ops/s");
 * ```
 */
export class Progress {
  #terminal: boolean;
  #statusShown = false;
  #lastLogged = 0;

  constructor(terminal = Deno.stderr.isTerminal()) {
    this.#terminal = terminal;
  }

  /** Replaces the status line (throttled when stderr is not a terminal). */
  status(text: string): void {
    if (this.#terminal) {
      Deno.stderr.writeSync(encoder.encode(`\r\x1b[K${text}`));
      this.#statusShown = true;
      return;
    }
    const now = performance.now();
    if (now - this.#lastLogged < LOG_INTERVAL_MS) return;
    this.#lastLogged = now;
    Deno.stderr.writeSync(encoder.encode(`  ... ${text}\n`));
  }

  /** Prints a line that stays (clearing the status line first). */
  line(text: string): void {
    this.#clear();
    Deno.stderr.writeSync(encoder.encode(text + "\n"));
  }

  /** Removes the status line. */
  done(): void {
    this.#clear();
  }

  #clear(): void {
    if (this.#terminal && this.#statusShown) {
      Deno.stderr.writeSync(encoder.encode("\r\x1b[K"));
      this.#statusShown = false;
    }
  }
}
