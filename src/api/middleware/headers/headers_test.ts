import assert from "node:assert/strict";
import { Hono } from "hono";
import { FakeNode } from "../../../../tests/api/fake_node.ts";
import { clusterHeaders } from "./headers.ts";

Deno.test("X-Revision and X-Leader (client URL, else node id, else absent)", async () => {
  const node = new FakeNode();
  await node.submit({ cmd: { op: "put", key: "k", value: 1 } });
  const app = new Hono();
  app.use("*", clusterHeaders(node, new Map([[1, "http://n1:7001"]])));
  app.get("/", (c) => c.text("x"));
  app.get("/precise", (c) => c.text("x", 200, { "x-revision": "0" }));

  let answer = await app.request("/");
  assert.equal(answer.headers.get("x-revision"), "1");
  assert.equal(answer.headers.get("x-leader"), "http://n1:7001");
  assert.equal((await app.request("/precise")).headers.get("x-revision"), "0");
  node.leader = 2;
  answer = await app.request("/");
  assert.equal(answer.headers.get("x-leader"), "2");
  node.leader = 0;
  answer = await app.request("/");
  assert.equal(answer.headers.get("x-leader"), null);
  assert.equal((await app.request("/missing")).headers.get("x-revision"), "1");
});
