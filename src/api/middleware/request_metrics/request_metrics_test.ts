import assert from "node:assert/strict";
import { Hono } from "hono";
import { FakeNode } from "../../../../tests/api/fake_node.ts";
import { ApiMetrics } from "../../metrics.ts";
import { requestMetrics, routeLabel } from "./request_metrics.ts";

Deno.test("route labels are templates, never raw keys", () => {
  assert.equal(routeLabel("/v1/config/a/b/c"), "/v1/config/{key}");
  assert.equal(routeLabel("/v1/config"), "/v1/config");
  assert.equal(routeLabel("/"), "/"); // the status page
  assert.equal(routeLabel("/v1/status"), "/v1/status");
  assert.equal(routeLabel("/v1/locks/x/acquire"), "/v1/locks/{name}/acquire");
  assert.equal(routeLabel("/v1/locks/x"), "/v1/locks/{name}");
  assert.equal(routeLabel("/metrics"), "/metrics");
  assert.equal(routeLabel("/anything/else"), "other");
});

Deno.test("requests are counted by method, route and status", async () => {
  const metrics = new ApiMetrics();
  const app = new Hono();
  app.use("*", requestMetrics(metrics));
  app.get("/v1/config/*", (c) => c.text("x"));
  await app.request("/v1/config/a");
  await app.request("/v1/config/b");
  await app.request("/nope", { method: "WEIRD" });
  const text = metrics.render(new FakeNode());
  assert.match(
    text,
    /edgeraft_http_requests_total\{method="GET",route="\/v1\/config\/\{key\}",status="200"\} 2/,
  );
  assert.match(text, /edgeraft_http_requests_total\{method="other",route="other",status="404"\} 1/);
});
