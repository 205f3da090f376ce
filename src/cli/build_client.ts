/**
 * `deno task build:client`: the client as an npm package in `dist/client/` (or `--out DIR`):
 * ES modules and `.d.ts` compiled from `src/client` by TypeScript, a package.json with
 * `exports`, and a README (docs/client.md). Install it with `npm install ./dist/client` (or
 * pack it with `npm pack dist/client`).
 *
 * The compile is also the check that the client stays portable: it is type-checked against
 * the ES2022 and DOM libraries only, so any Deno API in `src/client` fails the build.
 *
 * @example
 * ```sh
 * deno run --allow-all src/cli/build_client.ts --out /tmp/edgeraft-client
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { EDGERAFT_VERSION } from "../api/metrics.ts";
import ts from "typescript";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SOURCE = join(ROOT, "src/client");

/**
 * The package's name, as npm sees it (and as code imports it).
 *
 * @example
 * ```ts ignore
 * import { PACKAGE_NAME } from "./build_client.ts";
 * PACKAGE_NAME; // "@edgeraft/client"
 * ```
 */
export const PACKAGE_NAME = "@edgeraft/client";

/**
 * Compiles `src/client` into `outDir` and writes the package around it; throws with the
 * compiler's diagnostics if the client does not compile for a plain ES2022 + DOM runtime.
 *
 * @example
 * ```ts ignore
 * import { buildClientPackage } from "./build_client.ts";
 * await buildClientPackage("/tmp/edgeraft-client");
 * ```
 */
export async function buildClientPackage(outDir: string): Promise<string[]> {
  await Deno.remove(outDir, { recursive: true }).catch(() => {});
  await Deno.mkdir(outDir, { recursive: true });
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ["lib.es2022.d.ts", "lib.dom.d.ts", "lib.dom.asynciterable.d.ts"],
    types: [],
    strict: true,
    declaration: true,
    allowImportingTsExtensions: true,
    rewriteRelativeImportExtensions: true,
    rootDir: SOURCE,
    outDir,
    skipLibCheck: true,
    newLine: ts.NewLineKind.LineFeed,
  };
  const program = ts.createProgram([join(SOURCE, "mod.ts")], options);
  const emitted = program.emit();
  const diagnostics = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics];
  if (diagnostics.length > 0 || emitted.emitSkipped) {
    const host: ts.FormatDiagnosticsHost = {
      getCanonicalFileName: (name) => name,
      getCurrentDirectory: () => ROOT,
      getNewLine: () => "\n",
    };
    throw new Error(`the client does not compile:\n${ts.formatDiagnostics(diagnostics, host)}`);
  }
  const packageJson = {
    name: PACKAGE_NAME,
    version: EDGERAFT_VERSION,
    description: "Fetch-only client of edgeraft (locks with fencing tokens, config values, " +
      "watches) for Deno, Node 18+, Bun and edge workers",
    type: "module",
    main: "./mod.js",
    types: "./mod.d.ts",
    exports: { ".": { types: "./mod.d.ts", default: "./mod.js" } },
    files: ["*.js", "*.d.ts", "README.md"],
    sideEffects: false,
    engines: { node: ">=18.17" },
  };
  await Deno.writeTextFile(join(outDir, "package.json"), JSON.stringify(packageJson, null, 2));
  await Deno.copyFile(join(ROOT, "docs/client.md"), join(outDir, "README.md"));
  const files: string[] = [];
  for await (const entry of Deno.readDir(outDir)) files.push(entry.name);
  return files.sort();
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { out: { type: "string", default: join(ROOT, "dist/client") } },
  });
  const outDir = resolve(values.out!);
  try {
    const files = await buildClientPackage(outDir);
    console.log(`${PACKAGE_NAME}@${EDGERAFT_VERSION} in ${outDir}: ${files.join(", ")}`);
  } catch (error) {
    console.error((error as Error).message);
    Deno.exit(1);
  }
}
