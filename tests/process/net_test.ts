/** The loopback helpers the real-process tests share. */

import assert from "node:assert/strict";
import { freePort } from "./net.ts";

Deno.test("freePort never hands out one port twice in a process (a cluster once got a port for two nodes)", () => {
  const ports = new Set<number>();
  for (let i = 0; i < 2000; i++) ports.add(freePort());
  assert.equal(ports.size, 2000);
  for (const port of ports) {
    assert.ok(port >= 20_000 && port < 32_000, `${port} below the ephemeral range`);
  }
});
