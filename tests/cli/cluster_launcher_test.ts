/**
 * The `deno task cluster` launcher: its pure helpers, and the launcher as a real process over
 * fake nodes (one that dies at once, one that ignores SIGTERM) and over the real `node.ts`.
 * Every run ends with a check that no node process is left.
 */

import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import {
  CLUSTER_USAGE,
  ClusterUsageError,
  describeExit,
  describeLeaderChange,
  linePrefix,
  LineSplitter,
  nodeArgs,
  nodeColor,
  parseClusterArgs,
  parseLeaderView,
  pickLeader,
  planCluster,
  restartCommand,
  shellQuote,
  shouldUseColor,
} from "../../src/cli/cluster_output.ts";
import { poll } from "../process/poll.ts";
import { withTempDir as withTempDirOf } from "../process/temp_dir.ts";

const LAUNCHER = new URL("../../src/cli/cluster.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;
const NODE_MAIN = new URL("../../src/cli/node.ts", import.meta.url).pathname;

Deno.test("parseClusterArgs gives the defaults of docs/architecture.md#processes-and-ports", () => {
  assert.deepEqual(parseClusterArgs([]), {
    nodes: 3,
    learners: 0,
    dataRoot: "./data/cluster",
    clientPort: 7001,
    peerPort: 7101,
    tickMs: undefined,
    logFormat: "pretty",
    stopTimeoutMs: 10_000,
    nodeScript: undefined,
    help: false,
  });
});

Deno.test("parseClusterArgs reads every option, in both --flag value and --flag=value", () => {
  const options = parseClusterArgs([
    "--nodes=5",
    "--learners=2",
    ...["--data-dir", "/tmp/x", "--client-port", "17001", "--peer-port=17101"],
    ...["--tick-ms", "20", "--log-format", "json", "--stop-timeout-ms", "500"],
    ...["--node-script", "fake.ts", "-h"],
  ]);
  assert.deepEqual(options, {
    nodes: 5,
    learners: 2,
    dataRoot: "/tmp/x",
    clientPort: 17001,
    peerPort: 17101,
    tickMs: 20,
    logFormat: "json",
    stopTimeoutMs: 500,
    nodeScript: "fake.ts",
    help: true,
  });
});

Deno.test("parseClusterArgs refuses what it cannot run, saying why", () => {
  const refusals: [string[], RegExp][] = [
    [["--nodes", "4"], /--nodes must be 1, 3 or 5, not 4/],
    [["--nodes", "7"], /--nodes must be a whole number from 1 to 5, not 7/],
    [["--client-port", "7001", "--peer-port", "7002"], /overlap for 3 nodes/],
    [["--client-port", "65535"], /--client-port must be a whole number from 1 to 65533/],
    [["--learners", "5"], /--learners must be a whole number from 0 to 4, not 5/],
    [["--client-port", "7001", "--peer-port", "7004", "--learners", "1"], /overlap for 4 nodes/],
    [["--peer-port", "71o1"], /--peer-port must be a whole number/],
    [["--log-format", "xml"], /--log-format must be pretty or json, not xml/],
    [["--tick-ms", "0"], /--tick-ms must be a whole number from 1/],
    [["--colour"], /Unknown option '--colour'/],
    [["positional"], /positional/],
  ];
  for (const [args, message] of refusals) {
    assert.throws(() => parseClusterArgs(args), (error: unknown) => {
      assert.ok(error instanceof ClusterUsageError, `${args.join(" ")}: ${error}`);
      assert.match(error.message, message);
      return true;
    });
  }
  assert.match(CLUSTER_USAGE, /--client-port P/);
});

Deno.test("planCluster puts node i on the i-th port of each range and in <root>/n<i>", () => {
  const nodes = planCluster(parseClusterArgs(["--nodes", "5", "--client-port", "8001"]), "/r");
  assert.deepEqual(nodes.map((node) => node.id), [1, 2, 3, 4, 5]);
  assert.deepEqual(nodes[4], {
    id: 5,
    role: "voter",
    dataDir: "/r/n5",
    clientPort: 8005,
    peerPort: 7105,
    clientAddr: "127.0.0.1:8005",
    peerAddr: "127.0.0.1:7105",
    clientUrl: "http://127.0.0.1:8005",
    peerUrl: "http://127.0.0.1:7105",
  });
});

Deno.test("nodeArgs follows the node's command-line contract and keeps the secret out", () => {
  const options = parseClusterArgs(["--tick-ms", "5"]);
  const nodes = planCluster(options, "/r");
  assert.deepEqual(nodeArgs(nodes[1], nodes, options), [
    ...["--id", "2", "--data-dir", "/r/n2"],
    ...["--client-addr", "127.0.0.1:7002", "--peer-addr", "127.0.0.1:7102"],
    "--peers",
    "1=http://127.0.0.1:7101,2=http://127.0.0.1:7102,3=http://127.0.0.1:7103",
    "--client-urls",
    "1=http://127.0.0.1:7001,2=http://127.0.0.1:7002,3=http://127.0.0.1:7003",
    ...["--log-format", "pretty", "--tick-ms", "5"],
  ]);
  const withoutTick = nodeArgs(nodes[0], nodes, parseClusterArgs([]));
  assert.ok(!withoutTick.includes("--tick-ms"));
  assert.ok(!withoutTick.some((arg) => arg.includes("secret")));
});

Deno.test("--learners N plans learners after the voters, joining through the voters' APIs", () => {
  const options = parseClusterArgs(["--learners", "1"]);
  const nodes = planCluster(options, "/r");
  assert.deepEqual(nodes.map((node) => [node.id, node.role, node.clientPort, node.peerPort]), [
    [1, "voter", 7001, 7101],
    [2, "voter", 7002, 7102],
    [3, "voter", 7003, 7103],
    [4, "learner", 7004, 7104],
  ]);
  assert.deepEqual(nodeArgs(nodes[3], nodes, options), [
    ...["--id", "4", "--data-dir", "/r/n4"],
    ...["--client-addr", "127.0.0.1:7004", "--peer-addr", "127.0.0.1:7104"],
    "--join",
    "http://127.0.0.1:7001,http://127.0.0.1:7002,http://127.0.0.1:7003",
    ...["--log-format", "pretty"],
  ]);
  // The voters found the cluster without the learner.
  const voterArgs = nodeArgs(nodes[0], nodes, options);
  assert.ok(!voterArgs.join(" ").includes("7104"), voterArgs.join(" "));
  assert.match(CLUSTER_USAGE, /--learners N/);
});

Deno.test("restartCommand repeats the node's flags, reads the secret from its file, quotes", () => {
  const options = parseClusterArgs(["--tick-ms", "5"]);
  const nodes = planCluster(options, "/my data/root");
  const command = restartCommand(nodes[1], nodes, options, {
    deno: "/usr/bin/deno",
    config: "/src/deno.json",
    nodeScript: "/src/src/cli/node.ts",
    secretPath: "/my data/root/secret",
    env: { MALLOC_ARENA_MAX: "2" },
  });
  assert.equal(
    command,
    `env EDGERAFT_CLUSTER_SECRET="$(cat '/my data/root/secret')" MALLOC_ARENA_MAX=2 /usr/bin/deno ` +
      `run --allow-all --config=/src/deno.json /src/src/cli/node.ts ` +
      nodeArgs(nodes[1], nodes, options).map(shellQuote).join(" "),
  );
  assert.match(command, / --data-dir '\/my data\/root\/n2' /);
  assert.equal(shellQuote("it's"), `'it'\\''s'`);
  assert.equal(shellQuote("a=1,b=http://x:1"), "a=1,b=http://x:1");
});

Deno.test("shouldUseColor only on a terminal, and never when NO_COLOR is set", () => {
  assert.equal(shouldUseColor({ noColor: undefined, isTerminal: true }), true);
  assert.equal(shouldUseColor({ noColor: "", isTerminal: true }), true); // no-color.org: empty = unset
  assert.equal(shouldUseColor({ noColor: "1", isTerminal: true }), false);
  assert.equal(shouldUseColor({ noColor: undefined, isTerminal: false }), false);
});

Deno.test("linePrefix aligns node and launcher labels and colors each node differently", () => {
  assert.equal(linePrefix(1, false), "n1      │ ");
  assert.equal(linePrefix(undefined, false), "cluster │ ");
  assert.equal(linePrefix(3, true), `${nodeColor(3)}n3      │\x1b[0m `);
  const colors = [1, 2, 3, 4, 5].map(nodeColor);
  assert.equal(new Set(colors).size, 5);
  assert.equal(nodeColor(6), nodeColor(1));
});

Deno.test("LineSplitter rejoins lines cut across chunks and drops \\r", () => {
  const splitter = new LineSplitter();
  assert.deepEqual(splitter.push("one\ntw"), ["one"]);
  assert.deepEqual(splitter.push("o"), []);
  assert.deepEqual(splitter.push("\r\nthree\n\nfour"), ["two", "three", ""]);
  assert.deepEqual(splitter.flush(), ["four"]);
  assert.deepEqual(splitter.flush(), []);
});

Deno.test("parseLeaderView takes 0 and null as no leader and rejects what is not a view", () => {
  assert.deepEqual(parseLeaderView({ nodeId: 2, leaderId: 3, term: 7, members: [] }), {
    nodeId: 2,
    leaderId: 3,
    term: 7,
  });
  assert.equal(parseLeaderView({ nodeId: 2, leaderId: 0, term: 7 })?.leaderId, undefined);
  assert.equal(parseLeaderView({ nodeId: 2, leaderId: null, term: 7 })?.leaderId, undefined);
  assert.equal(parseLeaderView({ nodeId: 2, term: 7 })?.leaderId, undefined);
  assert.equal(parseLeaderView({ nodeId: "x", leaderId: 1, term: 7 }), undefined);
  assert.equal(parseLeaderView({ nodeId: 1, leaderId: 1 }), undefined);
  assert.equal(parseLeaderView("leader"), undefined);
  assert.equal(parseLeaderView(null), undefined);
});

Deno.test("pickLeader trusts the highest term that names a leader", () => {
  assert.equal(pickLeader([]), undefined);
  assert.equal(pickLeader([{ nodeId: 1, leaderId: undefined, term: 9 }]), undefined);
  assert.deepEqual(
    pickLeader([
      { nodeId: 1, leaderId: 1, term: 4 },
      { nodeId: 2, leaderId: 2, term: 5 },
      { nodeId: 3, leaderId: undefined, term: 6 },
    ]),
    { leaderId: 2, term: 5 },
  );
});

Deno.test("describeLeaderChange speaks only when the leader changes", () => {
  const url = "http://127.0.0.1:7002";
  assert.equal(describeLeaderChange(undefined, undefined, undefined), undefined);
  assert.equal(describeLeaderChange(2, { leaderId: 2, term: 9 }, url), undefined);
  assert.equal(
    describeLeaderChange(undefined, { leaderId: 2, term: 3 }, url),
    "leader is n2 (term 3), client API http://127.0.0.1:7002",
  );
  assert.equal(
    describeLeaderChange(1, { leaderId: 2, term: 3 }, undefined),
    "leader is n2 (term 3)",
  );
  assert.equal(describeLeaderChange(2, undefined, undefined), "no leader known (was n2)");
});

Deno.test("describeExit names the exit code or the signal", () => {
  assert.equal(describeExit({ success: false, code: 3, signal: null }), "exited with code 3");
  assert.equal(
    describeExit({ success: false, code: 137, signal: "SIGKILL" }),
    "was killed by SIGKILL",
  );
});

/** The launcher as a child process whose stdout and stderr lines are collected as they come. */
class LauncherProcess {
  readonly lines: string[] = [];
  readonly #process: Deno.ChildProcess;
  readonly #output: Promise<unknown>;
  readonly status: Promise<Deno.CommandStatus>;
  #exited = false;

  constructor(args: string[], env: Record<string, string> = {}) {
    this.#process = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", `--config=${CONFIG}`, LAUNCHER, ...args],
      env: { NO_COLOR: "1", ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.status = this.#process.status.finally(() => (this.#exited = true));
    this.#output = Promise.all([
      this.#collect(this.#process.stdout),
      this.#collect(this.#process.stderr),
    ]);
  }

  async #collect(stream: ReadableStream<Uint8Array>): Promise<void> {
    const splitter = new LineSplitter();
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      this.lines.push(...splitter.push(chunk));
    }
    this.lines.push(...splitter.flush());
  }

  /** Polls the output until a line matches, or fails after `timeoutMs` showing what it saw. */
  async waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      for (const line of this.lines) {
        const match = line.match(pattern);
        if (match !== null) return match;
      }
      if (Date.now() > deadline || this.#exited) {
        throw new Error(`no line matched ${pattern} in ${timeoutMs} ms:\n${this.output()}`);
      }
      await delay(25);
    }
  }

  /** The pids of the nodes, from the launcher's `n1 pid 1234: ...` lines. */
  nodePids(): number[] {
    return this.lines.flatMap((line) => {
      const match = line.match(/^cluster │ n\d pid (\d+):/);
      return match === null ? [] : [Number(match[1])];
    });
  }

  output(): string {
    return this.lines.join("\n");
  }

  kill(signal: Deno.Signal): void {
    if (!this.#exited) this.#process.kill(signal);
  }

  /** Waits for the exit and the last line, or fails after `timeoutMs`. */
  async exit(timeoutMs: number): Promise<Deno.CommandStatus> {
    const timer = new AbortController();
    try {
      const status = await Promise.race([
        this.status,
        delay(timeoutMs, undefined, { signal: timer.signal }).then(() => {
          throw new Error(`the launcher did not exit in ${timeoutMs} ms:\n${this.output()}`);
        }),
      ]);
      await this.#output;
      return status;
    } finally {
      timer.abort();
    }
  }

  /** SIGKILLs the launcher and any node still alive, so that a failed test leaves nothing. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.kill("SIGKILL");
    await this.status;
    await this.#output;
    for (const pid of this.nodePids()) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // Already gone, as it should be.
      }
    }
  }
}

/**
 * Bases of two runs of `count` consecutive ports, each free a moment ago, for a launcher's
 * `--client-port` and `--peer-port` (fixed ports collide with whatever else runs here).
 */
function freePortRuns(count: number): { client: number; peer: number } {
  const runs: number[] = [];
  for (let attempt = 0; attempt < 200 && runs.length < 2; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    if (runs.some((other) => Math.abs(other - base) < count)) continue;
    const listeners: Deno.Listener[] = [];
    try {
      for (let i = 0; i < count; i++) {
        listeners.push(Deno.listen({ hostname: "127.0.0.1", port: base + i }));
      }
      runs.push(base);
    } catch {
      // one of them is taken: try another base
    } finally {
      for (const listener of listeners) listener.close();
    }
  }
  assert.equal(runs.length, 2, "no free runs of ports");
  return { client: runs[0], peer: runs[1] };
}

/** Whether `pid` still runs with `marker` in its command line (a reused pid would not). */
async function isRunning(pid: number, marker: string): Promise<boolean> {
  try {
    return (await Deno.readTextFile(`/proc/${pid}/cmdline`)).includes(marker);
  } catch {
    return false;
  }
}

async function assertNoneRunning(pids: number[], marker: string): Promise<void> {
  for (const pid of pids) assert.equal(await isRunning(pid, marker), false, `node ${pid} is left`);
}

/**
 * A stand-in for `node.ts`: node 2 exits at once with code 3, node 3 ignores SIGTERM, node 1 obeys
 * it, and all serve a `/v1/cluster` that names node 1 leader in term 4. With FAKE_NODE_MODE=all-die
 * every node exits at once. Each reports whether it got the secret in `<root>/secret`.
 */
const FAKE_NODE = `
const flag = (name: string) => Deno.args[Deno.args.indexOf(name) + 1];
const id = Number(flag("--id"));
const dataDir = flag("--data-dir");
const root = dataDir.slice(0, dataDir.lastIndexOf("/"));
const secret = (await Deno.readTextFile(root + "/secret")).trim();
const got = Deno.env.get("EDGERAFT_CLUSTER_SECRET") === secret ? "matches" : "differs";
const tls = Deno.env.get("EDGERAFT_TLS_CERT") === undefined ? "absent" : "inherited";
console.log("fake node " + id + "; secret " + got + "; tls env " + tls);
if (id === 2 || Deno.env.get("FAKE_NODE_MODE") === "all-die") {
  console.error("fake node " + id + " gives up");
  Deno.exit(3);
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => {
    console.error((id === 3 ? "ignoring " : "stopping on ") + signal);
    if (id !== 3) Deno.exit(0);
  });
}
const [hostname, port] = flag("--client-addr").split(":");
Deno.serve({ hostname, port: Number(port), onListen: () => console.error("listening") }, () =>
  Response.json({ clusterId: "fake", nodeId: id, leaderId: 1, term: 4, members: [] }));
`;

/** A temporary directory for `body`, removed afterwards. */
function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  return withTempDirOf("edgeraft_cluster_test_", body);
}

Deno.test({
  name: "the launcher reports a dead node, names the leader, and on SIGINT stops the rest",
  ignore: Deno.build.os !== "linux", // reads /proc
  fn: () =>
    withTempDir(async (dir) => {
      const fakeNode = `${dir}/fake_node.ts`;
      await Deno.writeTextFile(fakeNode, FAKE_NODE);
      const ports = freePortRuns(3);
      await using launcher = new LauncherProcess([
        ...["--data-dir", `${dir}/root`, "--node-script", fakeNode],
        ...["--client-port", String(ports.client), "--peer-port", String(ports.peer)],
        ...["--stop-timeout-ms", "1500"],
      ], { EDGERAFT_TLS_CERT: "/nowhere/cert.pem" });
      await launcher.waitForLine(
        new RegExp(
          `^cluster │ leader is n1 \\(term 4\\), client API http://127\\.0\\.0\\.1:${ports.client}$`,
        ),
        30_000,
      );
      await launcher.waitForLine(
        /^cluster │ n2 exited with code 3; still running: n1, n3$/,
        30_000,
      );
      const pids = launcher.nodePids();
      assert.equal(pids.length, 3);
      assert.ok(launcher.lines.includes("n1      │ fake node 1; secret matches; tls env absent"));
      assert.ok(launcher.lines.includes("n2      │ fake node 2 gives up"));
      assert.match(launcher.output(), /cluster │ made a new cluster secret in .*\/root\/secret/);
      assert.equal((await Deno.stat(`${dir}/root/secret`)).mode! & 0o777, 0o600);

      launcher.kill("SIGINT");
      const status = await launcher.exit(20_000);
      assert.equal(status.code, 0, launcher.output());
      const output = launcher.output();
      assert.match(output, /cluster │ stopping n1, n3 \(SIGTERM\)/);
      assert.ok(launcher.lines.includes("n3      │ ignoring SIGTERM"), output);
      assert.match(output, /cluster │ n3 did not stop within 1500 ms; sending SIGKILL/);
      assert.match(output, /cluster │ n1 exited with code 0/);
      assert.match(output, /cluster │ n3 was killed by SIGKILL/);
      await assertNoneRunning(pids, dir);
    }),
});

Deno.test({
  name: "the launcher exits with 1 when every node has died",
  ignore: Deno.build.os !== "linux",
  fn: () =>
    withTempDir(async (dir) => {
      const fakeNode = `${dir}/fake_node.ts`;
      await Deno.writeTextFile(fakeNode, FAKE_NODE);
      const ports = freePortRuns(3);
      await using launcher = new LauncherProcess([
        ...["--data-dir", `${dir}/root`, "--node-script", fakeNode],
        ...["--client-port", String(ports.client), "--peer-port", String(ports.peer)],
      ], { FAKE_NODE_MODE: "all-die" });
      const status = await launcher.exit(30_000);
      assert.equal(status.code, 1, launcher.output());
      assert.match(launcher.output(), /cluster │ every node has exited; stopping/);
      await assertNoneRunning(launcher.nodePids(), dir);
    }),
});

Deno.test("the launcher refuses to start when a port is taken, before touching the data", async () => {
  await withTempDir(async (dir) => {
    using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = taken.addr.port;
    const peerPort = port > 40_000 ? port - 1_000 : port + 1_000;
    await using launcher = new LauncherProcess([
      // Any existing file will do as the node script: no node may start.
      ...["--data-dir", `${dir}/root`, "--node-script", LAUNCHER],
      ...["--client-port", String(port), "--peer-port", String(peerPort)],
    ]);
    const status = await launcher.exit(30_000);
    assert.equal(status.code, 1);
    assert.match(
      launcher.output(),
      new RegExp(`port ${port} \\(n1 client API\\).* already in use`),
    );
    assert.deepEqual(launcher.nodePids(), []);
    await assert.rejects(Deno.stat(`${dir}/root`), Deno.errors.NotFound);
  });
});

const nodeMissing = await Deno.stat(NODE_MAIN).then(() => false, () => true);

Deno.test({
  name: nodeMissing
    ? "the launcher runs a real cluster (SKIPPED: src/cli/node.ts does not exist yet)"
    : "the launcher runs a real 3-node cluster until a leader is known, and SIGINT stops it",
  ignore: nodeMissing || Deno.build.os !== "linux",
  fn: () =>
    withTempDir(async (dir) => {
      const ports = freePortRuns(3);
      await using launcher = new LauncherProcess([
        ...["--data-dir", `${dir}/root`, "--client-port", String(ports.client)],
        ...["--peer-port", String(ports.peer)],
        ...["--log-format", "json"],
      ]);
      const [, leader] = await launcher.waitForLine(/^cluster │ leader is n(\d) /, 90_000);
      const pids = launcher.nodePids();
      assert.equal(pids.length, 3);
      const view = await fetch(`http://127.0.0.1:${ports.client + Number(leader) - 1}/v1/cluster`)
        .then((r) => r.json());
      assert.equal(view.leaderId, Number(leader));

      launcher.kill("SIGINT");
      const status = await launcher.exit(30_000);
      assert.equal(status.code, 0, launcher.output());
      for (const id of [1, 2, 3]) {
        assert.match(launcher.output(), new RegExp(`cluster │ n${id} exited with code 0`));
      }
      await assertNoneRunning(pids, dir);
    }),
});

Deno.test({
  name: nodeMissing
    ? "a killed node restarts with the printed command (SKIPPED: no src/cli/node.ts)"
    : "a node killed with SIGKILL restarts with the command the launcher prints, and catches up",
  ignore: nodeMissing || Deno.build.os !== "linux",
  fn: () =>
    withTempDir(async (dir) => {
      const ports = freePortRuns(3);
      await using launcher = new LauncherProcess([
        ...["--data-dir", `${dir}/root`, "--client-port", String(ports.client)],
        ...["--peer-port", String(ports.peer)],
        ...["--log-format", "json"],
      ]);
      const [, leaderText] = await launcher.waitForLine(/^cluster │ leader is n(\d) /, 90_000);
      const leader = Number(leaderText);
      const victim = leader === 3 ? 2 : 3;
      const pids = launcher.nodePids();
      assert.equal(pids.length, 3);
      Deno.kill(pids[victim - 1], "SIGKILL");
      await launcher.waitForLine(new RegExp(`^cluster │ n${victim} was killed by SIGKILL`), 30_000);
      const [, command] = await launcher.waitForLine(
        /^cluster │ {3}(env EDGERAFT_CLUSTER_SECRET=.*)$/,
        30_000,
      );
      assert.ok(
        !command.includes(await Deno.readTextFile(`${dir}/root/secret`).then((s) => s.trim())),
        "the secret is printed",
      );

      // A write the dead node missed: it must catch up once restarted.
      const put = await fetch(
        `http://127.0.0.1:${ports.client + leader - 1}/v1/config/while-down`,
        {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: JSON.stringify("missed"),
        },
      );
      assert.equal(put.status, 200, await put.text());

      // As a user would, from another directory (exec: the test then holds the node's own pid).
      const restarted = new Deno.Command("sh", {
        args: ["-c", `exec ${command}`],
        cwd: dir,
        env: { NO_COLOR: "1" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const output = Promise.all([
        new Response(restarted.stdout).text(),
        new Response(restarted.stderr).text(),
      ]);
      try {
        const value = await poll(async () => {
          const res = await fetch(
            `http://127.0.0.1:${ports.client + victim - 1}/v1/config/while-down?consistency=stale`,
            { signal: AbortSignal.timeout(1_000) },
          );
          return res.ok ? (await res.json()).value : void await res.body?.cancel();
        }, { what: `n${victim} to restart and catch up`, timeoutMs: 60_000 });
        assert.equal(value, "missed");
      } catch (error) {
        try {
          restarted.kill("SIGKILL");
        } catch {
          // It had exited: its output says why.
        }
        await restarted.status;
        const [stdout, stderr] = await output;
        throw new Error(`${error}\nthe restarted node said:\n${stdout}\n${stderr}`);
      }
      restarted.kill("SIGTERM");
      const restartedStatus = await restarted.status;
      const [stdout, stderr] = await output;
      assert.equal(restartedStatus.code, 0, `${stdout}\n${stderr}`);

      launcher.kill("SIGINT");
      const status = await launcher.exit(30_000);
      assert.equal(status.code, 0, launcher.output());
      await assertNoneRunning(pids, dir);
    }),
});

Deno.test({
  name: nodeMissing
    ? "the launcher starts a learner (SKIPPED: no src/cli/node.ts)"
    : "--learners 1 starts voters 1-3, then learner n4 on the next ports, which joins and catches up",
  ignore: nodeMissing || Deno.build.os !== "linux",
  fn: () =>
    withTempDir(async (dir) => {
      const ports = freePortRuns(4);
      await using launcher = new LauncherProcess([
        ...["--data-dir", `${dir}/root`, "--client-port", String(ports.client)],
        ...["--peer-port", String(ports.peer), "--learners", "1"],
        ...["--log-format", "json"],
      ]);
      await launcher.waitForLine(/^cluster │ the voters have a leader: starting n4$/, 90_000);
      await launcher.waitForLine(
        new RegExp(
          `^cluster │ n4 pid \\d+: learner, client API http://127\\.0\\.0\\.1:${
            ports.client + 3
          }, peer http://127\\.0\\.0\\.1:${ports.peer + 3}`,
        ),
        30_000,
      );
      const n1 = `http://127.0.0.1:${ports.client}`;
      const n4 = `http://127.0.0.1:${ports.client + 3}`;
      const put = await fetch(`${n1}/v1/config/for-the-learner`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify("hello"),
      });
      assert.equal(put.status, 200, await put.text());
      const value = await poll(async () => {
        const res = await fetch(`${n4}/v1/config/for-the-learner?consistency=stale`, {
          signal: AbortSignal.timeout(1_000),
        });
        return res.ok ? (await res.json()).value : void await res.body?.cancel();
      }, { what: `n4 to join and catch up:\n${launcher.output()}`, timeoutMs: 60_000 });
      assert.equal(value, "hello");
      const members = await fetch(`${n1}/v1/members`).then((r) => r.json());
      assert.deepEqual(
        members.map((m: { id: number; role: string }) => [m.id, m.role]),
        [[1, "voter"], [2, "voter"], [3, "voter"], [4, "learner"]],
      );
      const pids = launcher.nodePids();
      assert.equal(pids.length, 4);
      launcher.kill("SIGINT");
      assert.equal((await launcher.exit(30_000)).code, 0, launcher.output());
      await assertNoneRunning(pids, dir);
    }),
});
