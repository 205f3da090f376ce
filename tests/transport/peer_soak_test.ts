/**
 * The short version of `deno task soak:peers` (`bench/peer_soak.ts`): three real node
 * processes keep sending to each other over the default protocol while one at a time is
 * stopped, gracefully or with kill -9, 20 times: no process may abort, and all must end
 * connected.
 */
import assert from "node:assert/strict";
import { runSoak } from "../../bench/peer_soak.ts";

Deno.test({
  name: "peer soak: 20 restarts (graceful and kill -9) abort nothing, every node reconnects",
  async fn() {
    const result = await runSoak({ restarts: 20, nodes: 3, protocol: "h2" });
    assert.deepStrictEqual(result.abortDetails, []);
    assert.equal(result.aborts, 0);
    assert.ok(result.allConnected, JSON.stringify(result));
    assert.equal(result.graceful + result.killed, 20);
    assert.ok(result.graceful > 0 && result.killed > 0, JSON.stringify(result));
  },
});
