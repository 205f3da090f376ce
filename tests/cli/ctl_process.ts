/**
 * Running `edgeraft` (src/cli/ctl.ts) as a real process in tests: to completion, or spawned
 * for a test to signal (watch, run-locked).
 *
 * @module
 */

const CTL = new URL("../../src/cli/ctl.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

/**
 * What a finished `edgeraft` run printed, and its exit code.
 *
 * @example
 * ```ts
 * import type { CtlResult } from "./ctl_process.ts";
 * const r: CtlResult = { code: 0, stdout: "edge\n", stderr: "" };
 * ```
 */
export interface CtlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The command that runs the tool. */
function command(
  args: readonly string[],
  opts: { endpoints?: string[]; env?: Record<string, string>; stdin?: boolean },
): Deno.Command {
  const env: Record<string, string> = { NO_COLOR: "1", ...opts.env };
  if (opts.endpoints) env.EDGERAFT_ENDPOINTS = opts.endpoints.join(",");
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--config", CONFIG, CTL, ...args],
    env,
    stdin: opts.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/**
 * Runs `edgeraft ARGS` to the end (EDGERAFT_ENDPOINTS set from `endpoints`).
 *
 * @example
 * ```ts ignore
 * const { code, stdout } = await ctl(["get", "a"], { endpoints: urls });
 * ```
 */
export async function ctl(
  args: readonly string[],
  opts: { endpoints?: string[]; env?: Record<string, string>; input?: string } = {},
): Promise<CtlResult> {
  const child = command(args, { ...opts, stdin: opts.input !== undefined }).spawn();
  if (opts.input !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(opts.input));
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  const text = new TextDecoder();
  return { code, stdout: text.decode(stdout), stderr: text.decode(stderr) };
}

/**
 * A spawned `edgeraft ARGS` whose output lines are collected as they come.
 *
 * @example
 * ```ts ignore
 * const watch = spawnCtl(["watch", "app/"], { endpoints: urls });
 * watch.process.kill("SIGINT");
 * const code = (await watch.process.status).code;
 * ```
 */
export function spawnCtl(
  args: readonly string[],
  opts: { endpoints?: string[]; env?: Record<string, string> } = {},
): { process: Deno.ChildProcess; stdout: string[]; stderr: string[]; done: Promise<void> } {
  const process = command(args, opts).spawn();
  const stdout: string[] = [];
  const stderr: string[] = [];
  const collect = async (stream: ReadableStream<Uint8Array>, into: string[]) => {
    let buffer = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      const lines = buffer.split("\n");
      buffer = lines.pop()!;
      into.push(...lines);
    }
    if (buffer) into.push(buffer);
  };
  const done = Promise.all([collect(process.stdout, stdout), collect(process.stderr, stderr)])
    .then(() => {});
  return { process, stdout, stderr, done };
}
