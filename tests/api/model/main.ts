/**
 * `deno task test:model [--seed N] [--requests N] [--clients N] [--shrink-ms N] [--nodes N]
 * [--open] [--node-root DIR]`: the model-based API test for longer runs than `deno task test`
 * makes. `--open` starts the node without tokens, so that the client port's head shortcuts
 * answer (see `RunOptions.open`).
 * `--nodes 3` runs a 3-node cluster (clients spread over the nodes, retries of dropped requests
 * sent to another node). `--node-root` runs the node of another checkout (e.g. `git archive
 * <commit>` unpacked: the code before a fix). Prints the report; exits 1 when an answer broke a
 * promise, 2 on bad flags.
 *
 * @module
 */

import { formatCoverage, formatReport, runModel } from "./runner.ts";

function flag(name: string, fallback: number): number {
  const i = Deno.args.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return fallback;
  const text = Deno.args[i].includes("=") ? Deno.args[i].split("=")[1] : Deno.args[i + 1];
  const n = Number(text);
  if (!/^\d+$/.test(text ?? "") || !Number.isSafeInteger(n)) {
    console.error(`--${name} must be a whole number, got ${JSON.stringify(text)}`);
    Deno.exit(2);
  }
  return n;
}

function text(name: string): string | undefined {
  const i = Deno.args.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return undefined;
  return Deno.args[i].includes("=") ? Deno.args[i].split("=")[1] : Deno.args[i + 1];
}

if (import.meta.main) {
  const known = [
    "--seed",
    "--requests",
    "--clients",
    "--shrink-ms",
    "--node-root",
    "--nodes",
    "--open",
  ];
  const unknown = Deno.args.filter((a) => a.startsWith("--") && !known.includes(a.split("=")[0]));
  if (unknown.length > 0) {
    console.error(`unknown flag ${unknown[0]} (known: ${known.join(" ")})`);
    Deno.exit(2);
  }
  const seed = flag("seed", Math.floor(Math.random() * 2 ** 31));
  const report = await runModel({
    seed,
    requests: flag("requests", 50_000),
    clients: flag("clients", 8),
    shrinkBudgetMs: flag("shrink-ms", 120_000),
    log: (line) => console.error(line),
    nodeRoot: text("node-root"),
    nodes: flag("nodes", 1),
    open: Deno.args.includes("--open"),
  });
  console.error(`what the run exercised (accepted answers by kind):\n${formatCoverage(report)}`);
  console.log(formatReport(report));
  Deno.exit(report.findings.length === 0 ? 0 : 1);
}
