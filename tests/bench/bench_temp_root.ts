/**
 * A temp directory for one benchmark run as a child process, with a temp root of its own inside
 * (the child's `TMPDIR`): the bench's cluster directories land there, so a test can check that
 * none is left behind without seeing the clusters of other tests running beside it.
 */

/**
 * What a bench test needs: `dir` for its output, `tmp` for the child's `TMPDIR`, and the cluster
 * directories still in `tmp`.
 *
 * @example
 * ```ts ignore
 * import { benchTempRoot } from "./bench_temp_root.ts";
 * const root = await benchTempRoot("bench-quick-");
 * // ... run the bench with env { TMPDIR: root.tmp } ...
 * console.log(root.leftovers()); // []
 * ```
 */
export async function benchTempRoot(
  prefix: string,
): Promise<{ dir: string; tmp: string; leftovers(): string[] }> {
  const dir = await Deno.makeTempDir({ prefix });
  const tmp = `${dir}/tmp`;
  await Deno.mkdir(tmp);
  return {
    dir,
    tmp,
    // Each is removed only after its processes were killed.
    leftovers: () =>
      [...Deno.readDirSync(tmp)].map((e) => e.name).filter((n) => n.startsWith("edgeraft-bench-")),
  };
}
