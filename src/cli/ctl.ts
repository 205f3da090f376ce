/**
 * `edgeraft` (`deno task ctl ...`): the command line of an edgeraft cluster, as `etcdctl` is
 * etcd's: config values, watches, locks, `run-locked` for cron jobs that must run once across
 * many hosts, and the cluster's status. `deno task build:ctl` compiles it into one binary.
 *
 * `deno compile` builds on the `denort` runtime, which it downloads from Deno's release site on
 * first use (or takes from `DENORT_BIN`): where only the npm registry is reachable, run the tool
 * with `deno task ctl` instead.
 *
 * Each command lives in `src/cli/ctl/`; this file reads the command line, runs the command and
 * turns what it threw into one line on stderr and an exit code (see `ctl/exit_codes.ts`).
 *
 * @example
 * ```sh
 * deno task ctl put app/flags/beta true
 * deno task ctl run-locked cron/nightly --ttl 30s -- ./nightly.sh
 * EDGERAFT_ENDPOINTS=http://10.0.0.1:7001,http://10.0.0.2:7001 edgeraft status
 * ```
 *
 * @module
 */

import { parseCommandLine } from "./ctl/args.ts";
import type { CommandContext } from "./ctl/command.ts";
import { COMMANDS } from "./ctl/commands.ts";
import { clientFor, connectionSettings } from "./ctl/connection.ts";
import { errorLine, EXIT, exitCodeFor } from "./ctl/exit_codes.ts";
import { commandHelp, toolHelp } from "./ctl/help.ts";
import { UsageError } from "./ctl/usage_error.ts";
import type { EdgeraftClient } from "../client/mod.ts";

/**
 * Runs one command line; resolves to the exit code.
 *
 * @example
 * ```ts ignore
 * import { runCtl } from "./ctl.ts";
 * const code = await runCtl(["get", "app/flags"], Deno.env.toObject());
 * ```
 */
export async function runCtl(
  argv: readonly string[],
  env: Record<string, string | undefined>,
  interrupted: AbortSignal = new AbortController().signal,
): Promise<number> {
  const out = (line: string) => console.log(line);
  const err = (line: string) => console.error(line);
  let parsed;
  try {
    parsed = parseCommandLine(argv, COMMANDS);
  } catch (error) {
    err(errorLine(error));
    return EXIT.usage;
  }
  const { command } = parsed;
  if (!command) {
    if (parsed.words.length === 0) {
      (parsed.flags.help ? out : err)(toolHelp(COMMANDS));
      return parsed.flags.help ? EXIT.ok : EXIT.usage;
    }
    err(`edgeraft: unknown command "${parsed.words.join(" ")}" (edgeraft --help lists them)`);
    return EXIT.usage;
  }
  if (parsed.flags.help) {
    out(commandHelp(command));
    return EXIT.ok;
  }
  let client: EdgeraftClient | undefined;
  let settings: { endpoints: string[]; token?: string } | undefined;
  const connection = () => {
    settings ??= connectionSettings(
      parsed.flags as { endpoints?: string; token?: string },
      env,
    );
    return settings;
  };
  const context: CommandContext = {
    args: parsed.args,
    rest: parsed.rest,
    flags: parsed.flags,
    json: parsed.flags.json === true,
    client: () => (client ??= clientFor(connection())),
    endpoints: () => connection().endpoints,
    token: () => connection().token,
    out,
    err,
    interrupted,
  };
  try {
    return await command.run(context);
  } catch (error) {
    // Interrupted while waiting (an acquire's wait): not a failure of the cluster.
    if (interrupted.aborted) return EXIT.interrupted;
    err(errorLine(error));
    if (error instanceof UsageError) err(`usage: edgeraft ${command.usage}`);
    return exitCodeFor(error);
  }
}

if (import.meta.main) {
  const interrupt = new AbortController();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => interrupt.abort(signal));
  }
  const code = await runCtl(Deno.args, Deno.env.toObject(), interrupt.signal);
  Deno.exit(code);
}
