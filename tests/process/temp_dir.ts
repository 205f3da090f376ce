/**
 * A temporary directory for one test body, removed afterwards whatever the body did.
 *
 * @module
 */

/**
 * Runs `body` with a fresh temporary directory (its name starts with `prefix`) and removes it
 * afterwards, recursively, whether `body` succeeded or threw.
 *
 * @example
 * ```ts ignore
 * await withTempDir("edgeraft_test_", async (dir) => {
 *   await Deno.writeTextFile(`${dir}/a`, "x");
 * });
 * ```
 */
export async function withTempDir(
  prefix: string,
  body: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
