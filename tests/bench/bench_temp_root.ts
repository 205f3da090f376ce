/**
 * A temp directory for one benchmark run as a child process, with a temp root of its own inside
 * (the child's `TMPDIR`): the bench's cluster directories land there, so a test can check that
 * none is left behind without seeing the clusters of other tests running beside it.
 */

const REPO_ROOT = new URL("../../", import.meta.url).pathname;

/** What a bench child printed, and how it ended. */
export interface BenchChildOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * What a bench test needs: `dir` for its output, `run` to start a bench script (its `TMPDIR` is
 * the private root inside `dir`; on the 90 s deadline the child gets SIGTERM, on which it stops its cluster),
 * and the cluster directories still in `tmp`.
 *
 * @example
 * ```ts ignore
 * import { benchTempRoot } from "./bench_temp_root.ts";
 * const root = await benchTempRoot("bench-quick-");
 * const out = await root.run("bench/run.ts", ["--quick", "--out", `${root.dir}/report`]);
 * console.log(root.leftovers()); // []
 * ```
 */
export async function benchTempRoot(
  prefix: string,
): Promise<{
  dir: string;
  run(script: string, args: string[]): Promise<BenchChildOutput>;
  leftovers(): string[];
}> {
  const dir = await Deno.makeTempDir({ prefix });
  const tmp = `${dir}/tmp`;
  await Deno.mkdir(tmp);
  return {
    dir,
    async run(script, args) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", new URL(`../../${script}`, import.meta.url).pathname, ...args],
        cwd: REPO_ROOT,
        env: { TMPDIR: tmp },
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(90_000),
      }).output();
      const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
      return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
    },
    // Each is removed only after its processes were killed.
    leftovers: () =>
      [...Deno.readDirSync(tmp)].map((e) => e.name).filter((n) => n.startsWith("edgeraft-bench-")),
  };
}
