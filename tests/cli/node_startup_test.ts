/**
 * The real node process (`deno run -A src/cli/node.ts`) started with settings it cannot run
 * with: each must end in exit code 2 and one line on stderr that names the problem, with no
 * stack trace, and a port already in use must be found before the data directory is touched.
 * Then the client API over HTTPS (`--client-tls-cert/--client-tls-key`).
 */

import assert from "node:assert/strict";
import { freePort } from "../process/net.ts";
import { hasOpenssl, testCertificates } from "../process/certificates.ts";
import { poll } from "../process/poll.ts";
import { withTempDir as withTempDirOf } from "../process/temp_dir.ts";

const NODE_MAIN = new URL("../../src/cli/node.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

/** Runs the node to its exit (killed after 60 s: a node that starts is itself a failure). */
async function runNode(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `--config=${CONFIG}`, NODE_MAIN, ...args],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr).trim(),
  };
}

/** Exit code 2 and exactly one `edgeraft: ...` line on stderr matching `pattern`. */
function assertOneLine(
  result: { code: number; stderr: string },
  pattern: RegExp,
): void {
  assert.equal(result.code, 2, result.stderr);
  const lines = result.stderr.split("\n");
  assert.equal(lines.length, 1, `more than one line:\n${result.stderr}`);
  assert.match(lines[0], /^edgeraft: /);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(result.stderr, /\bat .*:\d+:\d+/, "a stack trace");
}

/** The node's flags on free ports, with data in `dataDir`. */
function nodeFlags(dataDir: string, clientPort = freePort(), peerPort = freePort()): string[] {
  return [
    ...["--data-dir", dataDir, "--client-addr", `127.0.0.1:${clientPort}`],
    ...["--peer-addr", `127.0.0.1:${peerPort}`, "--log-format", "json"],
  ];
}

/** A temporary directory for `body`, removed afterwards. */
function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  return withTempDirOf("edgeraft_startup_test_", body);
}

Deno.test("node start: a data dir that is a file is one line and exit 2", () =>
  withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/file`, "not a directory");
    assertOneLine(
      await runNode(nodeFlags(`${dir}/file`)),
      new RegExp(`data directory ${dir}/file cannot be used: it is a file`),
    );
  }));

Deno.test("node start: a data dir under a file is one line and exit 2", () =>
  withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/file`, "not a directory");
    assertOneLine(
      await runNode(nodeFlags(`${dir}/file/data`)),
      /data directory .*\/file\/data cannot be used: a part of its path is a file/,
    );
  }));

/**
 * Makes `dir` unwritable for this process: `chmod` for a normal user; root ignores modes, so
 * for root the immutable attribute (`chattr +i`), when the file system has it. Returns how to
 * undo it, or undefined when neither works here.
 */
async function makeUnwritable(dir: string): Promise<(() => Promise<void>) | undefined> {
  if (Deno.uid() !== 0) {
    await Deno.chmod(dir, 0o500);
    return () => Deno.chmod(dir, 0o700);
  }
  const chattr = (flag: string) =>
    new Deno.Command("chattr", { args: [flag, dir], stdout: "null", stderr: "null" }).output()
      .then((out) => out.success, () => false);
  if (!(await chattr("+i"))) return undefined;
  return async () => {
    await chattr("-i");
  };
}

Deno.test("node start: a data dir that cannot be written is one line and exit 2", () =>
  withTempDir(async (dir) => {
    const data = `${dir}/data`;
    await Deno.mkdir(data);
    const undo = await makeUnwritable(data);
    if (undo === undefined) {
      console.warn("cannot make a directory unwritable here (root without chattr): skipped");
      return;
    }
    try {
      for (const path of [data, `${data}/sub`]) {
        assertOneLine(
          await runNode(nodeFlags(path)),
          new RegExp(`data directory ${path} cannot be used: no permission`),
        );
      }
    } finally {
      await undo();
    }
  }));

for (const role of ["client", "peer"] as const) {
  Deno.test(`node start: a ${role} port in use is found before the data dir is touched`, () =>
    withTempDir(async (dir) => {
      using taken = Deno.listen({ hostname: "127.0.0.1", port: freePort() });
      const port = taken.addr.port;
      const data = `${dir}/data`;
      const flags = role === "client"
        ? nodeFlags(data, port, freePort())
        : nodeFlags(data, freePort(), port);
      assertOneLine(
        await runNode(flags),
        new RegExp(`${role} address 127\\.0\\.0\\.1:${port} is in use`),
      );
      // Not even created: no raft.kv, no LOCK.
      await assert.rejects(Deno.stat(data), Deno.errors.NotFound);
    }));
}

Deno.test("node start: an unreadable tokens file is one line and exit 2, data dir untouched", () =>
  withTempDir(async (dir) => {
    assertOneLine(
      await runNode([...nodeFlags(`${dir}/data`), "--tokens-file", `${dir}/nope.json`]),
      /cannot read the tokens file .*nope\.json/,
    );
    await assert.rejects(Deno.stat(`${dir}/data`), Deno.errors.NotFound);
  }));

/** A CA and a certificate for the client API, signed by it, as files in `dir`. */
function clientCertificates(dir: string) {
  return testCertificates(dir, "api");
}

const haveOpenssl = hasOpenssl();

Deno.test({
  name: "node start: the client API serves HTTPS with --client-tls-cert/key, and no plain HTTP",
  ignore: !haveOpenssl,
  fn: () =>
    withTempDir(async (dir) => {
      const files = await clientCertificates(dir);
      const clientPort = freePort();
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          ...["run", "-A", `--config=${CONFIG}`, NODE_MAIN],
          ...nodeFlags(`${dir}/data`, clientPort, freePort()),
          ...["--client-tls-cert", files.cert],
        ],
        // The key from the environment: both ways of configuring it work.
        env: { EDGERAFT_CLIENT_TLS_KEY: files.key },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const output = Promise.all([
        new Response(child.stdout).text(),
        new Response(child.stderr).text(),
      ]);
      using client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(files.ca)] });
      const base = `https://127.0.0.1:${clientPort}`;
      try {
        await poll(async () => {
          const res = await fetch(`${base}/readyz`, { client });
          await res.body?.cancel();
          return res.ok ? true : undefined;
        }, { what: "the node to be ready over HTTPS", timeoutMs: 30_000 });
        const put = await fetch(`${base}/v1/config/greeting`, {
          client,
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: JSON.stringify("hello"),
        });
        assert.equal(put.status, 200, await put.clone().text());
        await put.body?.cancel();
        const get = await fetch(`${base}/v1/config/greeting`, { client });
        assert.equal(get.status, 200);
        assert.equal((await get.json()).value, "hello");
        // Its own client URL says https (followers name the leader with it).
        const cluster = await (await fetch(`${base}/v1/cluster`, { client })).json();
        assert.equal(cluster.members[0].url, base);

        // Plain HTTP on the same port gets no answer from the API.
        const plain = await fetch(`http://127.0.0.1:${clientPort}/healthz`, {
          signal: AbortSignal.timeout(5_000),
        }).then(async (res) => {
          await res.body?.cancel();
          return res.status;
        }, (error: Error) => error);
        assert.ok(plain instanceof Error || plain >= 400, `plain HTTP answered ${plain}`);
      } catch (error) {
        // Say what the node said: a failure here is about the node, not the test.
        try {
          child.kill("SIGKILL");
        } catch {
          // It had exited already: its output says why.
        }
        await child.status;
        const [stdout, stderr] = await output;
        throw new Error(`${error}\nthe node said:\n${stdout}\n${stderr}`, { cause: error });
      }
      {
        child.kill("SIGTERM");
        const status = await child.status;
        const [stdout, stderr] = await output;
        assert.equal(status.code, 0, `${stdout}\n${stderr}`);
        assert.match(
          stdout + stderr,
          new RegExp(`"client":"https://127\\.0\\.0\\.1:${clientPort}"`),
        );
      }
    }),
});

Deno.test({
  name: "node start: client TLS files that are missing or not PEM are one line and exit 2",
  ignore: !haveOpenssl,
  fn: () =>
    withTempDir(async (dir) => {
      const files = await clientCertificates(dir);
      const data = `${dir}/data`;
      const tls = (
        cert: string,
        key: string,
      ) => ["--client-tls-cert", cert, "--client-tls-key", key];
      assertOneLine(
        await runNode([...nodeFlags(data), ...tls(`${dir}/missing.pem`, files.key)]),
        /cannot read the --client-tls-cert file .*missing\.pem/,
      );
      assertOneLine(
        await runNode([...nodeFlags(data), ...tls(files.cert, `${dir}/missing.key`)]),
        /cannot read the --client-tls-key file .*missing\.key/,
      );
      await Deno.writeTextFile(`${dir}/junk.pem`, "not a certificate\n");
      assertOneLine(
        await runNode([...nodeFlags(data), ...tls(`${dir}/junk.pem`, files.key)]),
        /--client-tls-cert and --client-tls-key do not make a TLS server/,
      );
      assertOneLine(
        await runNode([...nodeFlags(data), "--client-tls-cert", files.cert]),
        /--client-tls-cert and --client-tls-key go together/,
      );
      await assert.rejects(Deno.stat(data), Deno.errors.NotFound);
    }),
});

Deno.test("node start: a trace file that cannot be written is one line and exit 2", () =>
  withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/file`, "not a directory");
    assertOneLine(
      await runNode([...nodeFlags(`${dir}/data`), "--trace-file", `${dir}/file/trace.txt`]),
      /cannot write the --trace-file .*file\/trace\.txt/,
    );
    await assert.rejects(Deno.stat(`${dir}/data`), Deno.errors.NotFound);
  }));

Deno.test("node start: a raft.kv the node cannot open is one line and exit 2", () =>
  withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/data/raft.kv`, { recursive: true }); // a directory in its place
    assertOneLine(
      await runNode(nodeFlags(`${dir}/data`)),
      /data directory .*\/data cannot be used: .*raft\.kv/,
    );
  }));

Deno.test({
  name: "node start: peer TLS files that are not PEM are one line and exit 2, data dir untouched",
  ignore: !haveOpenssl,
  fn: () =>
    withTempDir(async (dir) => {
      const files = await clientCertificates(dir);
      await Deno.writeTextFile(`${dir}/junk.pem`, "not a certificate\n");
      const data = `${dir}/data`;
      assertOneLine(
        await runNode([
          ...nodeFlags(data),
          ...["--tls-cert", `${dir}/junk.pem`, "--tls-key", files.key],
        ]),
        /--tls-cert and --tls-key do not make a TLS server/,
      );
      await assert.rejects(Deno.stat(data), Deno.errors.NotFound);
    }),
});
