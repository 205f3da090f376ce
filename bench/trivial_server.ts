/**
 * A server that does nothing but answer: the yardstick for the load generator. Whatever the
 * generator reaches against it is its ceiling, and its CPU per request there is what it takes
 * away from the servers it measures. Run alone it prints `{"port": N}` and serves until its
 * stdin closes: `deno run --allow-net bench/trivial_server.ts`.
 *
 * @module
 */

const ANSWER = '{"ok":true}';

/**
 * Serves the trivial answer on 127.0.0.1:`port` (0: any free port) in this process.
 *
 * @example
 * ```ts ignore
 * import { serveTrivial } from "./trivial_server.ts";
 * const server = serveTrivial();
 * console.log(server.addr.port);
 * await server.shutdown();
 * ```
 */
export function serveTrivial(port = 0): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, async (req) => {
    if (req.body) await req.body.cancel();
    return new Response(ANSWER, { headers: { "content-type": "application/json" } });
  });
}

/**
 * Starts the trivial server as a separate `deno` process (so that its CPU is not the
 * generator's) and resolves with its origin once it listens.
 *
 * @example
 * ```ts ignore
 * import { spawnTrivialServer } from "./trivial_server.ts";
 * const server = await spawnTrivialServer();
 * // ... load server.origin ...
 * await server.stop();
 * ```
 */
export async function spawnTrivialServer(): Promise<{ origin: string; stop(): Promise<void> }> {
  const script = new URL(import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", script],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the trivial server exited before it listened");
    text += value;
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  const { port } = JSON.parse(text.split("\n")[0]) as { port: number };
  return {
    origin: `http://127.0.0.1:${port}`,
    async stop() {
      await child.stdin.close().catch(() => {});
      // It exits when its stdin closes; a stuck one is killed after 2 s.
      const timer = setTimeout(() => child.kill("SIGKILL"), 2000);
      await child.status;
      clearTimeout(timer);
    },
  };
}

if (import.meta.main) {
  const server = serveTrivial();
  console.log(JSON.stringify({ port: server.addr.port }));
  // Serve until the parent closes our stdin (or dies, which closes it too).
  for await (const _ of Deno.stdin.readable) { /* ignore input */ }
  await server.shutdown();
}
