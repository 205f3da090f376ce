/**
 * A server process the benchmark started (an edgeraft node, an etcd member): its output is
 * drained (a full pipe would stall the server) and its last lines kept for error messages.
 *
 * @module
 */

const KEPT_LINES = 40;

/**
 * One spawned process.
 *
 * @example
 * ```ts ignore
 * import { ChildProcess } from "./child_process.ts";
 * const p = ChildProcess.spawn("etcd", ["--version"]);
 * await p.exited;
 * ```
 */
export class ChildProcess {
  readonly pid: number;
  /** Resolves when the process has exited. */
  readonly exited: Promise<Deno.CommandStatus>;
  #child: Deno.ChildProcess;
  #lines: string[] = [];
  #listeners: ((line: string) => void)[] = [];
  #running = true;

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.pid = child.pid;
    this.exited = child.status.finally(() => {
      this.#running = false;
    });
    this.#drain(child.stdout);
    this.#drain(child.stderr);
  }

  /**
   * Starts `command` with `args` (and `env` added to this process's environment); stdin is
   * closed, stdout and stderr are drained.
   */
  static spawn(
    command: string,
    args: string[],
    opts: { cwd?: string; env?: Record<string, string> } = {},
  ): ChildProcess {
    const child = new Deno.Command(command, {
      args,
      cwd: opts.cwd,
      env: opts.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    return new ChildProcess(child);
  }

  /** False once the process exited. */
  get running(): boolean {
    return this.#running;
  }

  /** The last lines the process printed (stdout and stderr interleaved). */
  tail(): string {
    return this.#lines.join("\n");
  }

  /**
   * Calls `listener` with every later whole line (stdout and stderr), e.g. to pick out log
   * events that the last {@linkcode KEPT_LINES} would lose.
   */
  onLine(listener: (line: string) => void): void {
    this.#listeners.push(listener);
  }

  /** Sends `signal` (no-op once exited). */
  signal(signal: Deno.Signal): void {
    if (!this.#running) return;
    try {
      this.#child.kill(signal);
    } catch {
      // exited between the check and the kill
    }
  }

  /** SIGKILL, then waits for the exit. */
  async kill(): Promise<void> {
    this.signal("SIGKILL");
    await this.exited;
  }

  async #drain(stream: ReadableStream<Uint8Array>): Promise<void> {
    // A chunk may end inside a line: its start waits for the rest (a listener parses JSON).
    let partial = "";
    try {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        const lines = (partial + chunk).split("\n");
        partial = lines.pop() ?? "";
        for (const line of lines) {
          if (line.trim() === "") continue;
          this.#lines.push(line);
          if (this.#lines.length > KEPT_LINES) this.#lines.shift();
          for (const listener of this.#listeners) listener(line);
        }
      }
      if (partial.trim() !== "") this.#lines.push(partial);
    } catch {
      // the process died; what we have is all there is
    }
  }
}
