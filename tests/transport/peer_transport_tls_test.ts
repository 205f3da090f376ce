import assert from "node:assert/strict";
import type { Message, NodeId } from "../../src/raft/types.ts";
import { PeerTransport } from "../../src/transport/peer_transport.ts";
import { message, waitFor } from "./fixtures.ts";

const SECRET = "tls-test-secret";

/** Whether `openssl` is on PATH (the TLS tests are skipped, with a warning, if not). */
function hasOpenssl(): boolean {
  try {
    const { success } = new Deno.Command("openssl", { args: ["version"], stdout: "null" })
      .outputSync();
    return success;
  } catch {
    return false;
  }
}

/** Runs `openssl <command line>` in `dir` (no argument contains a space). */
async function openssl(dir: string, commandLine: string): Promise<void> {
  const { success, stderr } = await new Deno.Command("openssl", {
    args: commandLine.split(" "),
    cwd: dir,
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(success, `openssl ${commandLine}: ${new TextDecoder().decode(stderr)}`);
}

/**
 * A throwaway cluster CA and a certificate for 127.0.0.1 signed by it, as an operator would
 * set up (rustls refuses a self-signed certificate that is its own CA as a server identity).
 */
async function clusterCertificates(dir: string) {
  const key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  await openssl(dir, `req -x509 ${key} -keyout ca.key -out ca.pem -days 1 -subj /CN=test-ca`);
  await openssl(dir, `req ${key} -keyout node.key -out node.csr -subj /CN=edgeraft-node`);
  await Deno.writeTextFile(`${dir}/ext.cnf`, "subjectAltName=IP:127.0.0.1\n");
  await openssl(
    dir,
    "x509 -req -in node.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out node.pem -days 1" +
      " -extfile ext.cnf",
  );
  const read = (name: string) => Deno.readTextFile(`${dir}/${name}`);
  return { ca: await read("ca.pem"), cert: await read("node.pem"), key: await read("node.key") };
}

const haveOpenssl = hasOpenssl();
if (!haveOpenssl) console.warn("http2_tls_test: openssl is not installed; skipping the TLS tests");

for (const client of ["fetch-http1", "node-http2"] as const) {
  Deno.test({
    name: `http transport [${client}] over TLS with a cluster CA`,
    ignore: !haveOpenssl,
    async fn() {
      const dir = await Deno.makeTempDir({ prefix: "edgeraft_tls_" });
      const transports: PeerTransport[] = [];
      try {
        const { ca, cert, key } = await clusterCertificates(dir);
        const received: Message[][] = [];
        const unreachable: NodeId[] = [];
        const events = (into: Message[][]) => ({
          onMessages: (m: Message[]) => into.push(m),
          onUnreachable: (p: NodeId) => unreachable.push(p),
          onCall: (method: string) => Promise.resolve(new TextEncoder().encode(`tls:${method}`)),
        });
        const b = new PeerTransport({
          nodeId: 2,
          clusterSecret: SECRET,
          events: events(received),
          listen: { hostname: "127.0.0.1", port: 0, cert, key },
        });
        transports.push(b);
        const url = `https://127.0.0.1:${b.addr?.port}`;
        const a = new PeerTransport({
          nodeId: 1,
          clusterSecret: SECRET,
          client,
          events: events([]),
          ca,
        });
        transports.push(a);
        a.setPeers(new Map([[2, url]]));

        const app = message({
          type: "app",
          term: 1,
          entries: [{ term: 1, index: 1, type: "normal", data: new Uint8Array(22_000) }],
        });
        a.send([app]);
        await waitFor(() => received.length === 1, "the message crosses TLS");
        assert.deepStrictEqual(received[0], [app]);
        assert.equal(
          new TextDecoder().decode(await a.call(2, "ping", new Uint8Array(3))),
          "tls:ping",
        );

        // Without the cluster CA, the certificate is not trusted: nothing gets through.
        const stranger = new PeerTransport({
          nodeId: 3,
          clusterSecret: SECRET,
          client,
          events: events([]),
        });
        transports.push(stranger);
        stranger.setPeers(new Map([[2, url]]));
        stranger.send([message({ type: "heartbeat", from: 3 })]);
        await waitFor(() => unreachable.includes(2), "the untrusted peer is reported");
        assert.equal(received.length, 1);
      } finally {
        await Promise.all(transports.map((t) => t.close())); // together: see peer_transport_test
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}
