/**
 * A `deno run` child process that the storage tests talk to by lines of stdout, and always clean
 * up (SIGKILL if still running), so that no test leaves a process behind.
 *
 * @module
 */

const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

/**
 * A running script.
 *
 * @example
 * ```ts
 * import { spawnDenoScript } from "./deno_child.ts";
 * await using child = spawnDenoScript(new URL("./lock_holder.ts", import.meta.url), ["/tmp/x", "try"]);
 * const line = await child.nextLine(10_000);
 * ```
 */
export interface DenoChild extends AsyncDisposable {
  readonly pid: number;
  /** The next line of stdout, or undefined at its end; rejects after `timeoutMs`. */
  nextLine(timeoutMs: number): Promise<string | undefined>;
  kill(signal: Deno.Signal): void;
  readonly status: Promise<Deno.CommandStatus>;
}

/**
 * Starts `deno run` on `script` with the project's config, read/write permissions and `args`.
 * Its stdin stays open until disposal, so a script can wait for its end to exit.
 *
 * @example
 * ```ts
 * import { spawnDenoScript } from "./deno_child.ts";
 * await using child = spawnDenoScript(new URL("./crash_writer.ts", import.meta.url), ["/tmp/d", "1"]);
 * child.kill("SIGKILL");
 * await child.status;
 * ```
 */
export function spawnDenoScript(script: URL, args: string[]): DenoChild {
  const process = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-lock", // the parent already resolved the same modules
      `--config=${CONFIG}`,
      "--allow-read",
      "--allow-write",
      script.pathname,
      ...args,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = process.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  let ended = false;
  let pendingRead: Promise<ReadableStreamReadResult<string>> | undefined;
  let exited = false;
  const status = process.status.then((s) => {
    exited = true;
    return s;
  });

  async function readLine(): Promise<string | undefined> {
    while (true) {
      const newline = buffered.indexOf("\n");
      if (newline >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        return line;
      }
      if (ended) return buffered.length > 0 ? buffered : undefined;
      // A read abandoned by a timeout is picked up again here, so no output is lost.
      pendingRead ??= reader.read();
      const { value, done } = await pendingRead;
      pendingRead = undefined;
      if (done) ended = true;
      else buffered += value;
    }
  }

  return {
    pid: process.pid,
    status,
    nextLine(timeoutMs) {
      const timeout = AbortSignal.timeout(timeoutMs);
      return new Promise((resolve, reject) => {
        const onTimeout = () =>
          reject(new Error(`no line from ${script.pathname} in ${timeoutMs} ms`));
        timeout.addEventListener("abort", onTimeout, { once: true });
        readLine().then(resolve, reject).finally(() =>
          timeout.removeEventListener("abort", onTimeout)
        );
      });
    },
    kill(signal) {
      if (!exited) process.kill(signal);
    },
    async [Symbol.asyncDispose]() {
      if (!exited) {
        try {
          process.kill("SIGKILL");
        } catch {
          // it exited in between
        }
      }
      await status;
      await process.stdin.close().catch(() => {});
      await reader.cancel().catch(() => {});
    },
  };
}
