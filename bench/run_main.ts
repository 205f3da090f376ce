/**
 * The end of a benchmark's entry point: run it, and stop its clusters however it ends (done,
 * failed, SIGINT or SIGTERM), so that no node or etcd process outlives the benchmark.
 *
 * @module
 */

/**
 * Runs `main` and exits with its code (130 on a signal), calling `stop` first in every case.
 *
 * @example
 * ```ts ignore
 * import { runMain } from "./run_main.ts";
 * await runMain(main, () => cluster.stop(), (line) => console.log(line));
 * ```
 */
export async function runMain(
  main: () => Promise<number>,
  stop: () => Promise<unknown>,
  say: (line: string) => void,
): Promise<never> {
  const interrupt = async () => {
    say("interrupted: stopping the clusters");
    await stop();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", interrupt);
  Deno.addSignalListener("SIGTERM", interrupt);
  let code = 1;
  try {
    code = await main();
  } finally {
    await stop();
  }
  Deno.exit(code);
}
