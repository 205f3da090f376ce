/**
 * Every command of the operator walkthrough "Changing the members" (add, promote, remove,
 * replace, leader transfer, backup, restore, rolling restart) runs, in order, against real
 * processes. The walkthrough is read from docs/operations.md (its `## Changing the members`
 * section), so what the reader sees is what runs.
 *
 * How the commands are run (what a reader does by hand, made mechanical):
 * - every line of every ```sh block is one command (`\` continuations joined, `#` lines skipped);
 * - `deno task start ...` is a server: it runs in the background (its own process group), and
 *   the next command waits until its client port answers `GET /healthz` (a reader watches its
 *   terminal);
 * - `export NAME=value` sets an environment variable for the commands after it;
 * - `kill ... $(cat data/N/LOCK)` is followed by a wait until that node's process exited (a
 *   reader sees it stop);
 * - any other command runs with `sh -c` from the repository root and must exit 0; one that
 *   fails is run again for up to 20 s (a reader runs `members promote` again while the learner
 *   catches up, or `curl /readyz` until the node is ready), and fails the test after that;
 * - substituted, so that the test runs beside anything else: each port of the walkthrough
 *   (70xx, 71xx, 80xx, 81xx) becomes a free port, the `data/` and `restored/` directories and
 *   the `*.edgeraft` files move into a temporary directory.
 * Each command's output is kept; a failure shows it and the background servers' logs
 * (`WALKTHROUGH_VERBOSE=1` prints them after a passing run too).
 *
 * @module
 */

import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import { freePort } from "../process/net.ts";
import { poll } from "../process/poll.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const DOC = `${ROOT}docs/operations.md`;
const SECTION = "## Changing the members";
const RETRY_MS = 20_000;
const COMMAND_TIMEOUT_MS = 60_000;

/**
 * The walkthrough section: from its heading to the next heading of the same level.
 *
 * @example
 * ```ts ignore
 * const text = walkthroughSection("# Ops\n## Changing the members\n...\n## Next\n");
 * ```
 */
function walkthroughSection(markdown: string): string | undefined {
  const start = markdown.split("\n").findIndex((line) => line.trim() === SECTION);
  if (start < 0) return undefined;
  const lines = markdown.split("\n").slice(start);
  const end = lines.findIndex((line, i) => i > 0 && /^## /.test(line));
  return lines.slice(0, end < 0 ? undefined : end).join("\n");
}

/** The commands of every ```sh block, in order, continuations joined. */
function shellCommands(markdown: string): string[] {
  const commands: string[] = [];
  let inBlock = false;
  let pending = "";
  for (const line of markdown.split("\n")) {
    if (/^```sh\s*$/.test(line)) {
      inBlock = true;
      continue;
    }
    if (inBlock && /^```\s*$/.test(line)) {
      inBlock = false;
      continue;
    }
    if (!inBlock) continue;
    const trimmed = line.trim();
    if (pending === "" && (trimmed === "" || trimmed.startsWith("#"))) continue;
    if (trimmed.endsWith("\\")) {
      pending += trimmed.slice(0, -1).trim() + " ";
      continue;
    }
    commands.push(pending + trimmed);
    pending = "";
  }
  return commands;
}

Deno.test("shellCommands joins continuations and skips comments", () => {
  const md = "text\n```sh\n# a comment\necho a \\\n  b\necho c\n```\n```ts\nno\n```\n";
  assert.deepEqual(shellCommands(md), ["echo a b", "echo c"]);
  assert.equal(
    walkthroughSection("# x\n## Changing the members\nA\n### B\n## C\n"),
    [
      "## Changing the members",
      "A",
      "### B",
    ].join("\n"),
  );
});

/** A server started by a `deno task start` line. */
interface Server {
  command: string;
  dataDir: string;
  clientPort: number;
  child: Deno.ChildProcess;
  log: string;
  exited: boolean;
}

class Walkthrough {
  readonly tmp: string;
  readonly env: Record<string, string> = { NO_COLOR: "1" };
  readonly servers: Server[] = [];
  readonly transcript: string[] = [];
  readonly #ports = new Map<string, string>();

  constructor(tmp: string) {
    this.tmp = tmp;
  }

  /** The command with its ports, directories and files moved to this run's own. */
  substitute(command: string): string {
    return command
      .replace(/\b(7[01]\d\d|8[01]\d\d)\b/g, (port) => {
        if (!this.#ports.has(port)) this.#ports.set(port, String(freePort()));
        return this.#ports.get(port)!;
      })
      .replace(/(^|[\s=(])((?:data|restored)\/)/g, `$1${this.tmp}/$2`)
      .replace(/(^|[\s=])([\w-]+\.edgeraft)\b/g, `$1${this.tmp}/$2`);
  }

  async run(original: string): Promise<void> {
    const command = this.substitute(original);
    this.transcript.push(`$ ${original}`);
    const exported = /^export (\w+)=(.*)$/.exec(command);
    if (exported) {
      this.env[exported[1]] = exported[2].replace(/^'(.*)'$/, "$1");
      return;
    }
    if (/^deno task start\b/.test(command)) return await this.#startServer(command);
    // The node a `kill` names, looked up before the kill: it may be seen exiting before the shell
    // that killed it has returned.
    const killed = /^kill\b.*\$\(cat (\S+)\/LOCK\)/.exec(command);
    const victim = killed && this.servers.find((s) => s.dataDir === killed[1] && !s.exited);
    if (killed) assert.ok(victim, `no running server has the data directory ${killed[1]}`);
    const started = Date.now();
    for (let attempt = 1;; attempt++) {
      const { code, output } = await this.#shell(command);
      this.transcript.push(output.trimEnd());
      if (code === 0) break;
      if (Date.now() - started > RETRY_MS) {
        throw new Error(`exit ${code} after ${attempt} attempts: ${original}\n${output}`);
      }
      this.transcript.push(`(exit ${code}: again)`);
      await delay(500);
    }
    if (killed && victim) {
      await poll(() => victim.exited ? true : undefined, {
        what: `the node of ${killed[1]} to exit`,
        timeoutMs: 20_000,
      });
    }
  }

  async #shell(command: string): Promise<{ code: number; output: string }> {
    const child = new Deno.Command("sh", {
      args: ["-c", `${command} 2>&1`],
      cwd: ROOT,
      env: this.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), COMMAND_TIMEOUT_MS);
    const result = await child.output();
    clearTimeout(timer);
    return { code: result.code, output: new TextDecoder().decode(result.stdout) };
  }

  async #startServer(command: string): Promise<void> {
    const clientPort = Number(/--client-port (\d+)/.exec(command)?.[1]);
    const dataDir = /--data-dir (\S+)/.exec(command)?.[1] ?? "";
    assert.ok(clientPort > 0 && dataDir !== "", `a server needs --client-port and --data-dir`);
    // Its own process group: the test ends `deno task` and the node under it together.
    const child = new Deno.Command("setsid", {
      args: ["sh", "-c", `exec ${command}`],
      cwd: ROOT,
      env: this.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const server: Server = { command, dataDir, clientPort, child, log: "", exited: false };
    this.servers.push(server);
    const collect = async (stream: ReadableStream<Uint8Array>) => {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) server.log += text;
    };
    void Promise.all([collect(child.stdout), collect(child.stderr)]).catch(() => {});
    void child.status.then(() => server.exited = true);
    await poll(async () => {
      if (server.exited) throw new Error(`it exited:\n${server.log.slice(-2000)}`);
      const res = await fetch(`http://127.0.0.1:${clientPort}/healthz`, {
        signal: AbortSignal.timeout(1000),
      });
      await res.body?.cancel();
      return true;
    }, { what: `the server of ${dataDir} to answer`, timeoutMs: 60_000, intervalMs: 200 })
      .catch((e) => {
        if (server.exited) throw new Error(`${command}\nexited:\n${server.log.slice(-3000)}`);
        throw e;
      });
  }

  async stop(): Promise<void> {
    for (const server of this.servers) {
      if (server.exited) continue;
      try {
        Deno.kill(-server.child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await Promise.all(this.servers.map((s) => s.child.status.catch(() => {})));
  }

  report(): string {
    const logs = this.servers.map((s) => `--- ${s.command}\n${s.log.slice(-1500)}`);
    return `${this.transcript.join("\n")}\n\n${logs.join("\n")}`;
  }
}

Deno.test({
  name: "operations walkthrough: every command of 'Changing the members' runs, in order",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const doc = await Deno.readTextFile(DOC).catch(() => "");
    const section = walkthroughSection(doc);
    assert.ok(section, `no "${SECTION}" section in ${DOC}`);
    const commands = shellCommands(section);
    assert.ok(commands.length > 20, `only ${commands.length} commands found`);
    const tmp = await Deno.makeTempDir({ prefix: "edgeraft-walkthrough-" });
    const walk = new Walkthrough(tmp);
    try {
      for (const command of commands) {
        try {
          await walk.run(command);
        } catch (error) {
          throw new Error(`${(error as Error).message}\n\n${walk.report()}`);
        }
      }
      // What the walkthrough promises, checked beyond exit codes.
      const restored = walk.substitute("http://127.0.0.1:8001/v1/config/app/feature-flags");
      const res = await fetch(restored);
      assert.deepEqual((await res.json()).value, { newCheckout: true });
      const members = await fetch(walk.substitute("http://127.0.0.1:7001/v1/members"));
      const list = await members.json() as { id: number; role: string }[];
      assert.deepEqual(
        list.map((m) => [m.id, m.role]).sort(),
        [[1, "voter"], [4, "voter"], [5, "voter"]],
        walk.report(),
      );
      if (Deno.env.get("WALKTHROUGH_VERBOSE")) console.log(walk.report());
    } finally {
      await walk.stop();
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
});
