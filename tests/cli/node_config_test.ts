/** The node's flags and environment variables, and how a mistake is reported. */

import assert from "node:assert/strict";
import {
  ConfigError,
  dataDirOf,
  DEV_SECRET,
  parseNodeConfig,
  usage,
} from "../../src/cli/node_config.ts";

Deno.test("node config: defaults make a one-node cluster on the documented ports", () => {
  const cfg = parseNodeConfig([], {});
  assert.equal(cfg.id, 1);
  assert.equal(cfg.clientPort, 7001);
  assert.equal(cfg.peerPort, 7101);
  assert.deepEqual([...cfg.peers], [[1, "http://127.0.0.1:7101"]]);
  assert.equal(cfg.clusterSecret, DEV_SECRET);
  assert.equal(cfg.defaultSecret, true);
  assert.equal(cfg.peerProtocol, "ws"); // auto: plain TCP
  assert.equal(parseNodeConfig(["--peer-protocol", "h2"], {}).peerProtocol, "h2");
  assert.equal(cfg.mallocTrimMs, 5000);
  assert.equal(parseNodeConfig(["--malloc-trim-ms", "0"], {}).mallocTrimMs, 0);
});

Deno.test("node config: flags win over environment variables", () => {
  const cfg = parseNodeConfig(["--id=2", "--data-dir", "/tmp/d"], {
    EDGERAFT_ID: "3",
    EDGERAFT_PEERS: "1=http://a:1,2=http://b:2",
    EDGERAFT_CLUSTER_SECRET: "s",
  });
  assert.equal(cfg.id, 2);
  assert.equal(cfg.dataDir, "/tmp/d");
  assert.equal(cfg.peers.size, 2);
  assert.equal(cfg.defaultSecret, false);
});

Deno.test("node config: a client certificate makes the node's own client URL https", () => {
  const cfg = parseNodeConfig(["--client-tls-cert", "c.pem"], {
    EDGERAFT_CLIENT_TLS_KEY: "k.pem",
  });
  assert.equal(cfg.clientTlsCert, "c.pem");
  assert.equal(cfg.clientTlsKey, "k.pem");
  assert.equal(cfg.clientUrls.get(1), "https://127.0.0.1:7001");
  assert.equal(parseNodeConfig([], {}).clientUrls.get(1), "http://127.0.0.1:7001");
});

Deno.test("--help says what the peer port carries and which protocol is the default", () => {
  assert.match(
    usage(),
    /--peer-addr H:P +peer port: Raft messages, snapshots and forwarded writes/,
  );
  assert.match(
    usage(),
    /--peer-protocol auto\|h2\|ws\|http1 +auto \(default\): h2 over TLS, ws on plain TCP/,
  );
});

Deno.test("node config: auto speaks HTTP/2 over TLS and the WebSocket on plain TCP", () => {
  assert.equal(parseNodeConfig(["--tls-cert=c.pem", "--tls-key=k.pem"], {}).peerProtocol, "h2");
  assert.equal(parseNodeConfig(["--peers", "1=https://n1:7101"], {}).peerProtocol, "h2");
  assert.equal(parseNodeConfig(["--peers", "1=http://n1:7101"], {}).peerProtocol, "ws");
  assert.equal(parseNodeConfig([], { EDGERAFT_PEER_PROTOCOL: "h2" }).peerProtocol, "h2");
});

Deno.test("node config: mutual TLS needs the client certificate, its key, and the peer TLS", () => {
  const cfg = parseNodeConfig([
    "--tls-cert=c.pem",
    "--tls-key=k.pem",
    "--tls-ca=ca.pem",
    "--tls-client-cert=cc.pem",
    "--tls-client-key=ck.pem",
  ], {});
  assert.equal(cfg.tlsClientCert, "cc.pem");
  assert.equal(cfg.tlsClientKey, "ck.pem");
  assert.equal(cfg.peerProtocol, "h2");
});

Deno.test("node config: each mistake is one clear sentence", () => {
  const cases: [string[], RegExp][] = [
    [["--id", "0"], /--id must be a whole number from 1/],
    [["--id", "x"], /--id must be a whole number/],
    [["--bogus", "1"], /unknown flag --bogus/],
    [["--client-addr", "nohost"], /host:port/],
    [["--peers", "2=http://x:1"], /must include this node/],
    [["--peers", "1=ftp://x"], /not an http\(s\) URL/],
    [["--tls-cert", "a.pem"], /--tls-cert and --tls-key go together/],
    [["--client-tls-key", "k.pem"], /--client-tls-cert and --client-tls-key go together/],
    [["--heartbeat-ticks", "30"], /smaller than --election-ticks/],
    [["--peer-protocol", "spdy"], /auto, h2, ws or http1/],
    [["--peer-protocol", "ws", "--tls-cert", "c", "--tls-key", "k"], /ws works on plain TCP/],
    [["--tls-client-cert", "c.pem"], /--tls-client-cert and --tls-client-key go together/],
    [["--tls-client-cert", "c", "--tls-client-key", "k"], /needs --tls-cert, --tls-key and/],
    [["--malloc-trim-ms", "-1"], /--malloc-trim-ms must be a whole number from 0/],
    [["--id"], /needs a value/],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parseNodeConfig(args, {}), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, message);
      return true;
    });
  }
});

Deno.test("node process: bad configuration exits with code 2 and one line, no stack trace", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../../src/cli/node.ts", import.meta.url).pathname, "--id", "zero"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 2);
  const err = new TextDecoder().decode(out.stderr).trim();
  assert.equal(err.split("\n").length, 1);
  assert.match(err, /^edgeraft: --id must be a whole number/);
});

Deno.test("node config: --timing wan sets WAN timing, and explicit flags win over the preset", () => {
  const lan = parseNodeConfig([], {});
  assert.deepEqual([lan.tickMs, lan.electionTicks, lan.heartbeatTicks], [10, 30, 5]);
  const wan = parseNodeConfig(["--timing", "wan"], {});
  assert.deepEqual([wan.tickMs, wan.electionTicks, wan.heartbeatTicks], [50, 20, 2]);
  const mixed = parseNodeConfig(["--election-ticks", "40"], { EDGERAFT_TIMING: "wan" });
  assert.deepEqual([mixed.tickMs, mixed.electionTicks, mixed.heartbeatTicks], [50, 40, 2]);
  assert.throws(() => parseNodeConfig(["--timing", "moon"], {}), /--timing must be lan or wan/);
});

Deno.test("node config: --join takes the ports it is given and leaves the id to the cluster", () => {
  const cfg = parseNodeConfig([
    "--",
    "--join",
    "http://127.0.0.1:7001/,http://127.0.0.1:7002",
    "--client-port",
    "7004",
    "--peer-port",
    "7104",
  ], { EDGERAFT_JOIN_TOKEN: "t" });
  assert.equal(cfg.id, undefined);
  assert.deepEqual(cfg.join, ["http://127.0.0.1:7001", "http://127.0.0.1:7002"]);
  assert.equal(cfg.joinToken, "t");
  assert.equal(cfg.peers.size, 0);
  assert.equal(cfg.advertisePeerUrl, "http://127.0.0.1:7104");
  assert.equal(cfg.advertiseClientUrl, "http://127.0.0.1:7004");
  const withId = parseNodeConfig(["--id", "4", "--join", "http://a:1"], {});
  assert.deepEqual([withId.clientPort, withId.peerPort], [7004, 7104]);
  const advertised = parseNodeConfig([
    "--id=5",
    "--join=http://a:1",
    "--peer-addr=0.0.0.0:7105",
    "--advertise-peer-url=http://n5.example:7105",
  ], {});
  assert.equal(advertised.advertisePeerUrl, "http://n5.example:7105");
  assert.equal(advertised.advertiseClientUrl, "http://127.0.0.1:7005");
});

Deno.test("node config: the data directory's identity gives the id, and a different --id is refused", () => {
  const cfg = parseNodeConfig(["--data-dir", "/d/4", "--client-port", "7004"], {}, {
    id: 4,
    origin: "joined",
  });
  assert.equal(cfg.id, 4);
  assert.equal(cfg.peerPort, 7104);
  assert.equal(parseNodeConfig(["--id", "4"], {}, { id: 4, origin: "joined" }).id, 4);
  assert.throws(
    () => parseNodeConfig(["--id", "5", "--data-dir", "/d/4"], {}, { id: 4, origin: "joined" }),
    (e: unknown) =>
      e instanceof ConfigError &&
      /--id 5 does not match the data directory \/d\/4: it belongs to node 4/.test(e.message),
  );
  assert.equal(dataDirOf(["--data-dir=/x"], { EDGERAFT_DATA_DIR: "/y" }), "/x");
  // A joined node never takes members from flags.
  const joined = parseNodeConfig(["--peers", "4=http://x:1"], {}, { id: 4, origin: "joined" });
  assert.equal(joined.peers.size, 0);
  assert.equal(dataDirOf([], { EDGERAFT_DATA_DIR: "/y" }), "/y");
});

Deno.test("node config: a founder restarted without --peers takes the founding members from node.json", () => {
  const founders = {
    peers: { "1": "http://h1:7101", "2": "http://h2:7102", "3": "http://h3:7103" },
    clientUrls: { "1": "http://h1:7001", "2": "http://h2:7002", "3": "http://h3:7003" },
  };
  const stored = { id: 2, origin: "founded" as const, founders };
  const cfg = parseNodeConfig(["--data-dir", "/d/2"], {}, stored);
  assert.deepEqual([...cfg.peers.keys()], [1, 2, 3]);
  assert.equal(cfg.peers.get(3), "http://h3:7103");
  assert.equal(cfg.clientUrls.get(1), "http://h1:7001");
  // The same nodes at other URLs: the flags win (the directory takes over after a change).
  const moved = parseNodeConfig(
    ["--peers", "1=http://a:1,2=http://b:2,3=http://c:3"],
    {},
    stored,
  );
  assert.equal(moved.peers.get(1), "http://a:1");
  assert.throws(
    () => parseNodeConfig(["--data-dir", "/d/2", "--peers", "2=http://b:2"], {}, stored),
    (e: unknown) =>
      e instanceof ConfigError &&
      /--peers names nodes 2, but the cluster of data directory \/d\/2 was founded by nodes 1,2,3/
        .test(e.message),
  );
});

Deno.test("node config: join and restore mistakes are one clear sentence", () => {
  const cases: [string[], RegExp][] = [
    [["--join", "http://a:1"], /--join without --id needs --client-port/],
    [["--join", "http://a:1", "--client-port", "1"], /--join without --id needs --peer-port/],
    [["--join", "ftp://a"], /--join: "ftp:\/\/a" is not an http\(s\) URL/],
    [["--join", "http://a:1", "--id", "4", "--peers", "4=http://b:2"], /--join and --peers/],
    [["--join", "http://a:1", "--id", "4", "--restore-from", "f"], /--join and --restore-from/],
    [["--client-port", "1", "--client-addr", "127.0.0.1:2"], /--client-addr and --client-port/],
    [["--advertise-client-url", "nope"], /--advertise-client-url: "nope" is not/],
    [
      ["--id", "4", "--join", "http://a:1", "--peer-addr", "0.0.0.0:7104"],
      /--join with --peer-addr 0\.0\.0\.0:\.\.\. needs --advertise-peer-url/,
    ],
    [
      ["--id", "4", "--join", "http://a:1", "--client-addr", "[::]:7004"],
      /--join with --client-addr :::\.\.\. needs --advertise-client-url/,
    ],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parseNodeConfig(args, {}), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.match(e.message, message);
      return true;
    });
  }
  assert.match(usage(), /--join URL\[,URL\]/);
  assert.match(usage(), /--restore-from FILE/);
});

Deno.test("node config: the snapshot rule's flags, their defaults and their mistakes", () => {
  const cfg = parseNodeConfig([], {});
  assert.equal(cfg.snapshotEntries, 10_000);
  assert.equal(cfg.snapshotLogRatio, 0.5);
  assert.equal(cfg.snapshotLogMaxBytes, 64 * 1024 * 1024);
  const set = parseNodeConfig(["--snapshot-log-ratio", "2", "--snapshot-log-max-mb", "8"], {
    EDGERAFT_SNAPSHOT_ENTRIES: "500",
  });
  assert.equal(set.snapshotEntries, 500);
  assert.equal(set.snapshotLogRatio, 2);
  assert.equal(set.snapshotLogMaxBytes, 8 * 1024 * 1024);
  assert.equal(parseNodeConfig(["--snapshot-log-ratio", "0.25"], {}).snapshotLogRatio, 0.25);
  assert.throws(
    () => parseNodeConfig(["--snapshot-log-ratio", "-1"], {}),
    /--snapshot-log-ratio must be a number from 0 to 100, got "-1"/,
  );
  assert.throws(() => parseNodeConfig(["--snapshot-log-ratio", "lots"], {}), ConfigError);
  assert.throws(() => parseNodeConfig(["--snapshot-log-max-mb", "0"], {}), ConfigError);
  assert.match(usage(), /--snapshot-log-ratio R/);
});
