/**
 * The real node the model-based API test talks to: one `deno run src/cli/node.ts` process (a
 * one-node cluster) on free loopback ports, in a temporary data directory, started with a tokens
 * file so that requests act as different principals, or without one (an open node, where the
 * client port answers config reads, writes and lock calls from the request head).
 *
 * @module
 */

import { freePort } from "../../process/net.ts";
import { poll } from "../../process/poll.ts";

/**
 * The principals of a run: `alpha` and `beta` may read, write and lock everything; `narrow`
 * only keys under `narrow/` and locks under `narrow-` (so it is refused elsewhere); `unknown`
 * sends a well-formed token that is not in the tokens file; `none` sends no token at all.
 *
 * @example
 * ```ts
 * import type { TokenName } from "./model_node.ts";
 * const who: TokenName = "alpha";
 * ```
 */
export type TokenName = "alpha" | "beta" | "narrow" | "unknown" | "none";

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
  unknown: "model-unknown-token-0004",
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
 * Starts a cluster of `nodes` node processes (default 1: a one-node cluster) with the model's
 * tokens file (none when `open`: every token, or none, is then the one owner), and waits
 * until every node's `/readyz` says it has caught up with a leader.
 * `root` runs the node of another checkout of the project (e.g. the code before a fix, to see
 * the model catch its bug); default: this one. `url` is the first node's client URL, `urls`
 * every node's.
 *
 * @example
 * ```ts ignore
 * import { startModelNode } from "./model_node.ts";
 * const node = await startModelNode();
 * await node.stop();
 * const open = await startModelNode(undefined, 1, true); // no tokens file
 * await open.stop();
 * ```
 */
export async function startModelNode(
  root: string = ROOT,
  nodes = 1,
  open = false,
): Promise<ModelNode & { urls: string[] }> {
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
  const members = Array.from({ length: nodes }, (_, i) => ({
    id: i + 1,
    clientPort: freePort(),
    peerPort: freePort(),
  }));
  const peers = members.map((m) => `${m.id}=http://127.0.0.1:${m.peerPort}`).join(",");
  const clientUrls = members.map((m) => `${m.id}=http://127.0.0.1:${m.clientPort}`).join(",");
  const lines: string[] = [];
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream()).values()) {
      // Keep the tail only: a long run must not hold every log line.
      lines.push(chunk);
      if (lines.length > 2000) lines.splice(0, 1000);
    }
  };
  let exited = false;
  const children = members.map((m) => {
    // Spelled out rather than taken from src/cli/node_command.ts: `root` may be another
    // checkout.
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        ...["run", "--allow-all", "--config", `${root}/deno.json`, `${root}/src/cli/node.ts`],
        ...["--id", String(m.id), "--data-dir", `${dir}/n${m.id}`],
        ...["--client-addr", `127.0.0.1:${m.clientPort}`],
        ...["--peer-addr", `127.0.0.1:${m.peerPort}`, "--peers", peers],
        ...["--client-urls", clientUrls, "--cluster-secret", "model-test-secret"],
        ...["--log-format", "json"],
        ...(open ? [] : ["--tokens-file", tokensFile]),
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    child.status.then(() => exited = true);
    return child;
  });
  const collecting = Promise.all(
    children.flatMap((c) => [collect(c.stdout), collect(c.stderr)]),
  ).catch(() => {});
  let stopped = false;
  const urls = members.map((m) => `http://127.0.0.1:${m.clientPort}`);
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const child of children) {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
    await Promise.all(children.map((c) => c.status));
    await collecting;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    await poll(async () => {
      if (exited) throw new Error(`a node exited: ${lines.join("").slice(-2000)}`);
      for (const url of urls) {
        const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) });
        await res.body?.cancel();
        if (res.status !== 200) return undefined;
      }
      return true;
    }, { what: "the model's nodes to be ready", timeoutMs: 30_000, intervalMs: 50 });
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: urls[0], urls, output: () => lines.join(""), stop };
}
