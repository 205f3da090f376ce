/**
 * The real node the model-based API test talks to: one `deno run src/cli/node.ts` process (a
 * one-node cluster) on free loopback ports, in a temporary data directory, started with a tokens
 * file so that requests act as different principals.
 *
 * @module
 */

import { freePort } from "../../process/net.ts";
import { poll } from "../../process/poll.ts";

/**
 * The principals of a run: `alpha` and `beta` may read, write and lock everything; `narrow`
 * only keys under `narrow/` and locks under `narrow-` (so it is refused elsewhere); `none`
 * sends no token at all.
 *
 * @example
 * ```ts
 * import type { TokenName } from "./model_node.ts";
 * const who: TokenName = "alpha";
 * ```
 */
export type TokenName = "alpha" | "beta" | "narrow" | "none";

/**
 * The bearer token of each principal (test secrets, written to the node's tokens file).
 *
 * @example
 * ```ts
 * import { BEARER_TOKENS } from "./model_node.ts";
 * console.log(BEARER_TOKENS.alpha.length > 0); // true
 * ```
 */
export const BEARER_TOKENS: Readonly<Record<Exclude<TokenName, "none">, string>> = {
  alpha: "model-alpha-token-0001",
  beta: "model-beta-token-0002",
  narrow: "model-narrow-token-0003",
};

/**
 * A running node for the model test.
 *
 * @example
 * ```ts ignore
 * import { startModelNode } from "./model_node.ts";
 * const node = await startModelNode();
 * try {
 *   await fetch(`${node.url}/healthz`).then((r) => r.body?.cancel());
 * } finally {
 *   await node.stop();
 * }
 * ```
 */
export interface ModelNode {
  /** The client API's base URL, e.g. `http://127.0.0.1:23456`. */
  url: string;
  /** Everything the node printed so far. */
  output(): string;
  /** Kills the node and removes its data directory. */
  stop(): Promise<void>;
}

/** This checkout: the directory that holds deno.json. */
const ROOT = new URL("../../../", import.meta.url).pathname;

/**
 * Starts a one-node cluster with the model's tokens file and waits until `/readyz` says it has a
 * leader and has applied what it committed. `root` runs the node of another checkout of the
 * project (e.g. the code before a fix, to see the model catch its bug); default: this one.
 *
 * @example
 * ```ts ignore
 * import { startModelNode } from "./model_node.ts";
 * const node = await startModelNode();
 * await node.stop();
 * ```
 */
export async function startModelNode(root: string = ROOT): Promise<ModelNode> {
  const dir = await Deno.makeTempDir({ prefix: "edgeraft-model-" });
  const tokensFile = `${dir}/tokens.json`;
  await Deno.writeTextFile(
    tokensFile,
    JSON.stringify([
      { name: "alpha", token: BEARER_TOKENS.alpha, scopes: ["read", "write", "lock"] },
      { name: "beta", token: BEARER_TOKENS.beta, scopes: ["read", "write", "lock"] },
      {
        name: "narrow",
        token: BEARER_TOKENS.narrow,
        scopes: ["read", "write", "lock"],
        keyPrefixes: ["narrow/"],
        lockPrefixes: ["narrow-"],
      },
    ]),
  );
  const clientPort = freePort();
  const peerPort = freePort();
  // Spelled out rather than taken from src/cli/node_command.ts: `root` may be another checkout.
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...["run", "--allow-all", "--config", `${root}/deno.json`, `${root}/src/cli/node.ts`],
      ...["--id", "1", "--data-dir", `${dir}/n1`],
      ...["--client-addr", `127.0.0.1:${clientPort}`, "--peer-addr", `127.0.0.1:${peerPort}`],
      ...["--peers", `1=http://127.0.0.1:${peerPort}`, "--cluster-secret", "model-test-secret"],
      ...["--log-format", "json", "--tokens-file", tokensFile],
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream()).values()) {
      // Keep the tail only: a long run must not hold every log line.
      lines.push(chunk);
      if (lines.length > 2000) lines.splice(0, 1000);
    }
  };
  const collecting = Promise.all([collect(child.stdout), collect(child.stderr)]).catch(() => {});
  let stopped = false;
  const url = `http://127.0.0.1:${clientPort}`;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await child.status;
    await collecting;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    let exited = false;
    child.status.then(() => exited = true);
    await poll(async () => {
      if (exited) throw new Error(`the node exited: ${lines.join("").slice(-2000)}`);
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      return res.status === 200 ? true : undefined;
    }, { what: "the model node to be ready", timeoutMs: 30_000, intervalMs: 50 });
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, output: () => lines.join(""), stop };
}
