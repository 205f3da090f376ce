/**
 * One node process (`src/cli/node.ts`) started with whatever flags a test gives, for the tests
 * that start nodes outside a fixed cluster: a node that joins, one restored from a backup, one
 * restarted with only its data directory.
 *
 * @module
 */

const NODE_MAIN = new URL("../../src/cli/node.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

/**
 * A running node process and everything it printed.
 *
 * @example
 * ```ts ignore
 * const n = NodeChild.spawn(["--data-dir", "/tmp/n4", "--join", "http://127.0.0.1:7001",
 *   "--client-port", "7004", "--peer-port", "7104"]);
 * await n.stop();
 * ```
 */
export class NodeChild {
  readonly lines: string[] = [];
  readonly exited: Promise<Deno.CommandStatus>;
  readonly #child: Deno.ChildProcess;
  readonly #output: Promise<unknown>;

  private constructor(flags: string[], env: Record<string, string>) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", `--config=${CONFIG}`, NODE_MAIN, ...flags],
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.exited = this.#child.status;
    this.#output = Promise.all([
      this.#collect(this.#child.stdout),
      this.#collect(this.#child.stderr),
    ]);
  }

  /** Starts `src/cli/node.ts` with `flags` (and `env` added to this process's environment). */
  static spawn(flags: string[], env: Record<string, string> = {}): NodeChild {
    return new NodeChild(flags, env);
  }

  async #collect(stream: ReadableStream<Uint8Array>): Promise<void> {
    let partial = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (partial + chunk).split("\n");
      partial = parts.pop() ?? "";
      this.lines.push(...parts);
    }
    if (partial !== "") this.lines.push(partial);
  }

  /** The JSON log lines so far (`--log-format json`). */
  logs(): Record<string, unknown>[] {
    return this.lines.flatMap((line) => {
      try {
        return [JSON.parse(line)];
      } catch {
        return [];
      }
    });
  }

  /** Everything printed so far, for a failure message. */
  text(): string {
    return this.lines.join("\n");
  }

  /** Sends `signal` and waits for the exit (and the last output). */
  async signal(signal: Deno.Signal): Promise<Deno.CommandStatus> {
    try {
      this.#child.kill(signal);
    } catch {
      // already gone
    }
    const status = await this.exited;
    await this.#output;
    return status;
  }

  /** Kills the process (SIGKILL) if it still runs. */
  stop(): Promise<Deno.CommandStatus> {
    return this.signal("SIGKILL");
  }
}

/**
 * Runs `src/cli/node.ts` with `flags` to its exit (killed after `timeoutMs`: a node that was
 * meant to refuse but started is itself a failure).
 *
 * @example
 * ```ts ignore
 * const { code, stderr } = await runNodeToExit(["--restore-from", "/nowhere"]);
 * ```
 */
export async function runNodeToExit(
  flags: string[],
  timeoutMs = 60_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", `--config=${CONFIG}`, NODE_MAIN, ...flags],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr).trim(),
  };
}
