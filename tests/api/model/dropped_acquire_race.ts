/**
 * `deno run -A tests/api/model/dropped_acquire_race.ts [rounds]`: a regression check for a race
 * the model test found (see README.md, "A race it found", fixed): the retry of a try-lock whose
 * connection was dropped was granted the lock, and the lock was free right after, though nobody
 * released it.
 *
 * Each round: `POST /v1/locks/<name>/acquire` with an Idempotency-Key, the fetch aborted 0-5 ms
 * after it was sent; the same request again (the retry); then `GET /v1/locks/<name>`. The retry
 * must hold the lock it was granted. Prints every round where it does not, with the node's
 * applied index right after the retry's answer, and exits 1 if there was one. It also counts
 * the rounds that raced: the retry was applied first (its token is the round's first entry) and
 * the dropped attempt after it (the log moved past the retry's entry). The retry's lock is
 * released at the end of each round, so that no lease runs out (a tick) while later rounds
 * count entries.
 *
 * @module
 */

import { startModelNode } from "./model_node.ts";
import { send, type WireRequest } from "./wire.ts";

/**
 * What `droppedAcquireRace` found: `bad` rounds where the retry's grant was gone, `raced`
 * rounds where the dropped attempt reached the log after its retry (the interleaving at stake).
 *
 * @example
 * ```ts
 * import type { RaceCount } from "./dropped_acquire_race.ts";
 * const none: RaceCount = { bad: 0, raced: 0 };
 * ```
 */
export interface RaceCount {
  bad: number;
  raced: number;
}

/**
 * Runs `rounds` rounds against a fresh one-node cluster.
 *
 * @example
 * ```ts ignore
 * import { droppedAcquireRace } from "./dropped_acquire_race.ts";
 * const { bad, raced } = await droppedAcquireRace(400, console.log);
 * ```
 */
export async function droppedAcquireRace(
  rounds: number,
  log: (line: string) => void,
): Promise<RaceCount> {
  const node = await startModelNode();
  const count: RaceCount = { bad: 0, raced: 0 };
  try {
    const get = async (path: string) =>
      (await send(node.url, { method: "GET", path, headers: {}, token: "alpha" }))!;
    const appliedIndex = async () =>
      ((await get("/v1/cluster")).body as { appliedIndex: number }).appliedIndex;
    for (let i = 0; i < rounds; i++) {
      const before = await appliedIndex();
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
      const applied = await appliedIndex();
      await new Promise((resolve) => setTimeout(resolve, 20));
      const lock = await get(`/v1/locks/race-${i}`);
      const after = await appliedIndex();
      const granted = retry.body as { token?: number };
      const holder = (lock.body as { holder: { token: number } | null }).holder;
      const replayed = retry.headers["idempotent-replayed"] === "true";
      if (!replayed && granted.token === before + 1 && after > granted.token) count.raced++;
      if (holder !== null) {
        await send(node.url, {
          method: "POST",
          path: `/v1/locks/race-${i}/release`,
          headers: {},
          body: JSON.stringify({ token: holder.token }),
          token: "alpha",
        });
      }
      if (retry.status === 200 && holder?.token === granted.token) continue;
      count.bad++;
      log(
        `round ${i}: first attempt ${first ? `answered ${first.status}` : "dropped"}; retry ` +
          `${retry.status}${replayed ? " (replayed)" : ""} ` +
          `${retry.text}; applied index right after it ${applied}; lock ${lock.text}`,
      );
    }
  } finally {
    await node.stop();
  }
  return count;
}

if (import.meta.main) {
  const rounds = Number(Deno.args[0] ?? 400);
  const { bad, raced } = await droppedAcquireRace(rounds, console.log);
  console.log(
    `${bad} of ${rounds} rounds: the retry's grant was gone; ` +
      `${raced} rounds: the dropped attempt reached the log after its retry`,
  );
  Deno.exit(bad === 0 ? 0 : 1);
}
