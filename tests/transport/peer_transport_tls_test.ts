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
if (!haveOpenssl) {
  console.warn("peer_transport_tls_test: openssl is not installed; skipping the TLS tests");
}

for (const protocol of ["h2", "http1"] as const) {
  Deno.test({
    name: `peer transport [${protocol}] over TLS with a cluster CA`,
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
        const url = `https://127.0.0.1:${(await b.listening())?.port}`;
        const a = new PeerTransport({
          nodeId: 1,
          clusterSecret: SECRET,
          protocol,
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
          protocol,
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

for (const protocol of ["h2", "http1"] as const) {
  Deno.test({
    name:
      `peer transport [${protocol}] with mutual TLS: only peers with a certificate of the CA get in`,
    ignore: !haveOpenssl,
    async fn() {
      const dir = await Deno.makeTempDir({ prefix: "edgeraft_mtls_" });
      const otherDir = await Deno.makeTempDir({ prefix: "edgeraft_mtls_other_" });
      const transports: PeerTransport[] = [];
      try {
        const { ca, cert, key } = await clusterCertificates(dir);
        // A certificate of another CA: a stranger that trusts our CA but is not one of us.
        const other = await clusterCertificates(otherDir);
        const received: Message[][] = [];
        const b = new PeerTransport({
          nodeId: 2,
          clusterSecret: SECRET,
          ca,
          events: {
            onMessages: (m) => received.push(m),
            onUnreachable: () => {},
            onCall: () => Promise.resolve(new TextEncoder().encode("mtls")),
          },
          listen: { hostname: "127.0.0.1", port: 0, cert, key, requireClientCert: true },
        });
        transports.push(b);
        const url = `https://127.0.0.1:${(await b.listening())?.port}`;
        const client = (id: number, clientCert?: { cert: string; key: string }) => {
          const unreachable: NodeId[] = [];
          const t = new PeerTransport({
            nodeId: id,
            clusterSecret: SECRET,
            ca,
            clientCert,
            protocol,
            events: { onMessages: () => {}, onUnreachable: (p) => unreachable.push(p) },
          });
          transports.push(t);
          t.setPeers(new Map([[2, url]]));
          return { t, unreachable };
        };
        const member = client(1, { cert, key });
        member.t.send([message({ type: "heartbeat", from: 1 })]);
        await waitFor(() => received.length === 1, "a member's message crosses mutual TLS");
        assert.equal(
          new TextDecoder().decode(await member.t.call(2, "x", new Uint8Array())),
          "mtls",
        );

        for (const [id, clientCert] of [[3, undefined], [4, other]] as const) {
          const stranger = client(id, clientCert && { cert: clientCert.cert, key: clientCert.key });
          stranger.t.send([message({ type: "heartbeat", from: id })]);
          await waitFor(() => stranger.unreachable.includes(2), `stranger ${id} is refused`);
        }
        assert.equal(received.length, 1);
      } finally {
        await Promise.all(transports.map((t) => t.close()));
        await Deno.remove(dir, { recursive: true });
        await Deno.remove(otherDir, { recursive: true });
      }
    },
  });
}
