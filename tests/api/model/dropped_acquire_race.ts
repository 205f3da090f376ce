/**
 * `deno run -A tests/api/model/dropped_acquire_race.ts [rounds]`: the reproduction of a
 * discrepancy the model test found (see README.md): the retry of a try-lock whose connection was
 * dropped is granted the lock, and the lock is free right after, though nobody released it.
 *
 * Each round: `POST /v1/locks/<name>/acquire` with an Idempotency-Key, the fetch aborted 0-5 ms
 * after it was sent; the same request again (the retry); then `GET /v1/locks/<name>`. The retry
 * must hold the lock it was granted. Prints every round where it does not, with the node's
 * applied index right after the retry's answer, and exits 1 if there was one.
 *
 * @module
 */

import { startModelNode } from "./model_node.ts";
import { send, type WireRequest } from "./wire.ts";

/**
 * Runs `rounds` rounds against a fresh one-node cluster; returns how many went wrong.
 *
 * @example
 * ```ts ignore
 * import { droppedAcquireRace } from "./dropped_acquire_race.ts";
 * const bad = await droppedAcquireRace(400, console.log);
 * ```
 */
export async function droppedAcquireRace(
  rounds: number,
  log: (line: string) => void,
): Promise<number> {
  const node = await startModelNode();
  let bad = 0;
  try {
    const get = async (path: string) =>
      (await send(node.url, { method: "GET", path, headers: {}, token: "alpha" }))!;
    for (let i = 0; i < rounds; i++) {
      const acquire: WireRequest = {
        method: "POST",
        path: `/v1/locks/race-${i}/acquire`,
        headers: { "idempotency-key": `race-${i}` },
        body: JSON.stringify({ ttlMs: 30_000 }),
        token: "alpha",
      };
      const controller = new AbortController();
      setTimeout(() => controller.abort(), i % 6);
      const first = await send(node.url, acquire, controller.signal);
      const retry = (await send(node.url, acquire))!;
      const applied = (await get("/v1/cluster")).body as { appliedIndex: number };
      await new Promise((resolve) => setTimeout(resolve, 20));
      const lock = await get(`/v1/locks/race-${i}`);
      const granted = retry.body as { token?: number };
      const holder = (lock.body as { holder: { token: number } | null }).holder;
      if (retry.status === 200 && holder?.token === granted.token) continue;
      bad++;
      log(
        `round ${i}: first attempt ${first ? `answered ${first.status}` : "dropped"}; retry ` +
          `${retry.status}${retry.headers["idempotent-replayed"] ? " (replayed)" : ""} ` +
          `${retry.text}; applied index right after it ${applied.appliedIndex}; lock ${lock.text}`,
      );
    }
  } finally {
    await node.stop();
  }
  return bad;
}

if (import.meta.main) {
  const rounds = Number(Deno.args[0] ?? 400);
  const bad = await droppedAcquireRace(rounds, console.log);
  console.log(`${bad} of ${rounds} rounds: the retry's grant was gone`);
  Deno.exit(bad === 0 ? 0 : 1);
}
