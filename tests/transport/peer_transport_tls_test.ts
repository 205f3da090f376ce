import assert from "node:assert/strict";
import type { Message, NodeId } from "../../src/raft/types.ts";
import { PeerTransport } from "../../src/transport/peer_transport.ts";
import { hasOpenssl, testCertificates } from "../process/certificates.ts";
import { message, waitFor } from "./fixtures.ts";

const SECRET = "tls-test-secret";

/** A cluster CA and a node certificate signed by it, as PEM text. */
async function clusterCertificates(dir: string) {
  const files = await testCertificates(dir, "node");
  const [ca, cert, key] = await Promise.all(
    [files.ca, files.cert, files.key].map((path) => Deno.readTextFile(path)),
  );
  return { ca, cert, key };
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
