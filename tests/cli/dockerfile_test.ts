/**
 * Docker does not run on our machines, so the Dockerfile is checked here instead: by the linter
 * behind VS Code's Docker support (`dockerfile-utils`), by the project's own rules (pinned base
 * image, non-root user, health check, data volume, dependency layer), and by running its
 * HEALTHCHECK command for real against a local `/healthz`.
 */

import assert from "node:assert/strict";
import { NODE_PROCESS_ENV } from "../../src/cli/node_command.ts";
// Inline until deno.json maps "dockerfile-utils"; then import the bare name.
import { validate, ValidationSeverity } from "dockerfile-utils";

const ROOT = new URL("../../", import.meta.url);
const DOCKERFILE = await Deno.readTextFile(new URL("Dockerfile", ROOT));
const DOCKERIGNORE = await Deno.readTextFile(new URL(".dockerignore", ROOT));

/** One instruction, its continuation lines joined, comments dropped. */
interface Instruction {
  keyword: string;
  args: string;
  /** 1-based line where it starts, for messages. */
  line: number;
}

function parseInstructions(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending: { text: string; line: number } | undefined;
  for (const [index, raw] of text.split("\n").entries()) {
    const line = raw.trimEnd();
    // Docker drops comment lines even inside a continued instruction.
    if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
    pending ??= { text: "", line: index + 1 };
    if (line.endsWith("\\")) {
      pending.text += `${line.slice(0, -1)} `;
      continue;
    }
    const whole = (pending.text + line).trim();
    const keyword = whole.split(/\s/, 1)[0];
    instructions.push({
      keyword: keyword.toUpperCase(),
      args: whole.slice(keyword.length).trim(),
      line: pending.line,
    });
    pending = undefined;
  }
  return instructions;
}

const INSTRUCTIONS = parseInstructions(DOCKERFILE);

function all(keyword: string): Instruction[] {
  return INSTRUCTIONS.filter((instruction) => instruction.keyword === keyword);
}

function only(keyword: string): Instruction {
  const found = all(keyword);
  assert.equal(found.length, 1, `expected one ${keyword}, found ${found.length}`);
  return found[0];
}

function indexOf(keyword: string, args: RegExp): number {
  const index = INSTRUCTIONS.findIndex((i) => i.keyword === keyword && args.test(i.args));
  assert.ok(index >= 0, `no ${keyword} matching ${args}`);
  return index;
}

Deno.test("dockerfile-utils finds no error and no warning, with every check at its strictest", () => {
  const strictest = ValidationSeverity.ERROR;
  const diagnostics = validate(DOCKERFILE, {
    deprecatedMaintainer: strictest,
    directiveCasing: strictest,
    emptyContinuationLine: strictest,
    instructionCasing: strictest,
    instructionCmdMultiple: strictest,
    instructionEntrypointMultiple: strictest,
    instructionHealthcheckMultiple: strictest,
    instructionJSONInSingleQuotes: strictest,
    instructionWorkdirRelative: strictest,
  });
  const shown = diagnostics.map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
  assert.deepEqual(shown, []);
});

Deno.test("the base image is the official Deno image, pinned to the Deno the tests run on", () => {
  const from = only("FROM").args;
  const match = from.match(/^denoland\/deno:(\d+\.\d+\.\d+)$/);
  assert.ok(match, `FROM ${from} is not denoland/deno pinned to a full version`);
  assert.equal(match[1], Deno.version.deno, "the image's Deno and the tested Deno differ");
});

Deno.test("the node runs as the non-root deno user", () => {
  const entrypoint = indexOf("ENTRYPOINT", /./);
  const users = INSTRUCTIONS.slice(0, entrypoint).filter((i) => i.keyword === "USER");
  const user = users.at(-1)?.args;
  assert.equal(user, "deno", `the last USER before ENTRYPOINT is ${user ?? "missing"}`);
  assert.ok(!/^(root|0)(:|$)/.test(user));
});

Deno.test("the data lives in the /data volume, owned by the runtime user", () => {
  const volumes = all("VOLUME").flatMap((v) =>
    v.args.startsWith("[") ? JSON.parse(v.args) as string[] : v.args.split(/\s+/)
  );
  assert.ok(volumes.includes("/data"), `volumes: ${volumes.join(", ")}`);
  assert.ok(
    indexOf("RUN", /chown deno:deno \/data/) < indexOf("VOLUME", /\/data/),
    "/data must belong to deno before VOLUME, or a fresh volume is root's",
  );
});

/** The variables the image's ENV instructions set, by name. */
function imageEnv(): Map<string, string> {
  return new Map(
    all("ENV").flatMap((e) => e.args.split(/\s+/)).map((pair) => {
      const equals = pair.indexOf("=");
      return [pair.slice(0, equals), pair.slice(equals + 1)] as const;
    }),
  );
}

Deno.test("the ports and the env defaults are those of the node contract", () => {
  const exposed = all("EXPOSE").flatMap((e) => e.args.split(/\s+/));
  assert.deepEqual(exposed.toSorted(), ["7001", "7101"]);
  const env = imageEnv();
  assert.equal(env.get("EDGERAFT_DATA_DIR"), "/data");
  assert.equal(env.get("EDGERAFT_CLIENT_ADDR"), "0.0.0.0:7001");
  assert.equal(env.get("EDGERAFT_PEER_ADDR"), "0.0.0.0:7101");
});

Deno.test("the image and `deno task start` run the node with the process environment of `deno task cluster`", async () => {
  // README.md and docs/docker.md promise the same malloc and V8 settings on every way to start a
  // node: NODE_PROCESS_ENV is what the launcher, the bench and the fault harness use.
  const env = imageEnv();
  const config = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  const start: string = config.tasks.start;
  for (const [name, value] of Object.entries(NODE_PROCESS_ENV)) {
    assert.equal(env.get(name), value, `the image's ${name}`);
    assert.ok(
      start.includes(`${name}=${value} `),
      `deno task start sets ${name}=${value}: ${start}`,
    );
  }
  assert.ok(start.endsWith("deno run --allow-all src/cli/node.ts"), start);
});

Deno.test("dependencies are cached in a layer of their own, before the sources", () => {
  const copyConfig = indexOf("COPY", /^deno\.json deno\.lock /);
  const install = indexOf("RUN", /^deno install --frozen$/);
  const copySources = indexOf("COPY", /^src\/ /);
  const cache = indexOf("RUN", /^deno cache --frozen src\/cli\/node\.ts$/);
  assert.ok(copyConfig < install && install < copySources && copySources < cache);
});

Deno.test("the entrypoint runs src/cli/node.ts in exec form, under an init process", () => {
  const entrypoint = only("ENTRYPOINT").args;
  const argv = JSON.parse(entrypoint) as string[];
  assert.deepEqual(argv.slice(0, 4), ["/tini", "--", "deno", "run"]);
  assert.equal(argv.at(-1), "src/cli/node.ts");
  assert.ok(argv.includes("--cached-only"), "the container must not download at start");
});

Deno.test("every COPY source is in the build context and .dockerignore keeps data out", async () => {
  const ignored = DOCKERIGNORE.split("\n").map((l) => l.trim()).filter((l) =>
    l && !l.startsWith("#")
  );
  for (const entry of [".git", "data/", ".results/", "bench/results/"]) {
    assert.ok(ignored.includes(entry), `.dockerignore lacks ${entry}`);
  }
  for (const copy of all("COPY")) {
    const sources = copy.args.split(/\s+/).filter((arg) => !arg.startsWith("--")).slice(0, -1);
    for (const source of sources) {
      await Deno.stat(new URL(source, ROOT)); // throws NotFound
      const name = source.replace(/\/$/, "");
      assert.ok(
        !ignored.some((entry) => entry.replace(/\/$/, "") === name),
        `${source} is copied but .dockerignore excludes it`,
      );
    }
  }
});

/** Runs the HEALTHCHECK command with this Deno, against `clientAddr`; returns its exit code. */
async function runHealthcheck(
  clientAddr: string,
  env: Record<string, string> = {},
): Promise<number> {
  const healthcheck = only("HEALTHCHECK").args;
  const command = healthcheck.slice(healthcheck.indexOf("CMD [") + 4);
  const [program, ...args] = JSON.parse(command) as string[];
  assert.equal(program, "deno");
  const { code } = await new Deno.Command(Deno.execPath(), {
    args,
    env: { EDGERAFT_CLIENT_ADDR: clientAddr, ...env },
    stdout: "null",
    stderr: "null",
  }).output();
  return code;
}

Deno.test("the HEALTHCHECK queries /healthz with deno alone and fails when it is not 200", async () => {
  const healthcheck = only("HEALTHCHECK").args;
  assert.match(
    healthcheck,
    /^--interval=\S+ --timeout=\S+ --start-period=\S+ --retries=\d+\s+CMD \[/,
  );
  let status = 200;
  const paths: string[] = [];
  const controller = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: controller.signal, onListen: () => {} },
    (request) => {
      paths.push(new URL(request.url).pathname);
      return new Response(null, { status });
    },
  );
  try {
    // 0.0.0.0 as in the image: the check must then go to 127.0.0.1.
    assert.equal(await runHealthcheck(`0.0.0.0:${server.addr.port}`), 0);
    status = 503;
    assert.equal(await runHealthcheck(`127.0.0.1:${server.addr.port}`), 1);
    assert.deepEqual(paths, ["/healthz", "/healthz"]);
  } finally {
    controller.abort();
    await server.finished;
  }
  assert.notEqual(await runHealthcheck(`0.0.0.0:${server.addr.port}`), 0, "nothing listens");
});

/** A self-signed certificate for `CN=edgeraft` (no 127.0.0.1 in it), or undefined without openssl. */
async function selfSignedCertificate(): Promise<{ cert: string; key: string } | undefined> {
  const dir = await Deno.makeTempDir({ prefix: "edgeraft_docker_tls_" });
  try {
    const { success } = await new Deno.Command("openssl", {
      args: [
        ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
        ...["-nodes", "-keyout", `${dir}/key.pem`, "-out", `${dir}/cert.pem`, "-days", "1"],
        ...["-subj", "/CN=edgeraft"],
      ],
      stdout: "null",
      stderr: "null",
    }).output().catch(() => ({ success: false }));
    if (!success) return undefined;
    return {
      cert: await Deno.readTextFile(`${dir}/cert.pem`),
      key: await Deno.readTextFile(`${dir}/key.pem`),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the HEALTHCHECK asks over https when the client API serves TLS", async (t) => {
  const tls = await selfSignedCertificate();
  if (tls === undefined) {
    console.warn("openssl is not installed: skipped");
    return;
  }
  const paths: string[] = [];
  const controller = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: controller.signal, onListen: () => {}, ...tls },
    (request) => {
      paths.push(new URL(request.url).pathname);
      return new Response(null, { status: 200 });
    },
  );
  try {
    const addr = `0.0.0.0:${server.addr.port}`;
    await t.step("healthy over https", async () => {
      assert.equal(await runHealthcheck(addr, { EDGERAFT_CLIENT_TLS_CERT: "/tls/api.pem" }), 0);
    });
    await t.step("plain http to a TLS port is not healthy", async () => {
      assert.notEqual(await runHealthcheck(addr), 0);
    });
    assert.deepEqual(paths, ["/healthz"]);
  } finally {
    controller.abort();
    await server.finished;
  }
});
