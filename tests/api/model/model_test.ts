/**
 * The model-based API test of issue 10 in `deno task test`: 10,000 requests from 8 concurrent
 * clients against a real one-node process with tokens, and 10,000 more against an open one (no
 * tokens: the client port then answers config reads, writes and lock calls from the request
 * head, `src/api/fast_*.ts`), every answer compared with the reference model of docs/api.md
 * (see reference_model.ts). Each run takes about 8 s alone on 2 cores. Longer runs:
 * `deno task test:model [--open] --requests N`.
 *
 * Replay another seed with `MODEL_SEED=<n> deno test --allow-all tests/api/model/model_test.ts`.
 */

import { formatReport, runModel } from "./runner.ts";

const SEED = Number(Deno.env.get("MODEL_SEED") ?? 20_261_130);
const REQUESTS = 10_000;
const CLIENTS = 8;
/** Answers (see the coverage in `deno task test:model`'s output) every run must have seen. */
const MUST_SEE = [
  "put: a replay of the first answer",
  "acquire: a replay of the first answer (200)",
  "put: 422 idempotency-key-reused",
  "acquire: 422 idempotency-key-reused",
  "put: 422 client-seq-reused",
  "409 stale-sequence",
  "put: 200 written (replayed)",
  "acquire: 200 granted (the lease before it ran out)",
  "409 not-holder (the lease ran out)",
  "200 granted once the lease ran out",
  "409 lock-held once waitMs ran out",
  "200 granted to the retried wait once the holder released",
  "list: 200 with",
  "get: 304 not modified",
  "refused: 400 refusing a `..` key segment",
];
/** What only a node with tokens answers. */
const MUST_SEE_WITH_TOKENS = [
  "(its key is another token's too)",
  "refused: 401",
  "refused: 403",
];
/** What only an open node answers: one owner of every key, whatever the token. */
const MUST_SEE_OPEN = [
  "put: a replay of the first answer (200) sent with another token (replayed)",
];

for (const open of [false, true]) {
  Deno.test({
    name: `api model: 10,000 random config and lock requests ${
      open ? "to an open node (the head shortcuts)" : "with tokens"
    } answer as docs/api.md promises`,
    // The node is a child process and the clients' fetches outlive single ops by design.
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const report = await runModel({
        seed: SEED,
        requests: REQUESTS,
        clients: CLIENTS,
        shrinkBudgetMs: 30_000,
        open,
      });
      const text = formatReport(report);
      if (report.findings.length > 0) throw new Error(text);
      if (report.requests < REQUESTS) {
        throw new Error(`only ${report.requests} requests were sent (want ${REQUESTS})\n${text}`);
      }
      // A run that never reached these answers would pass without testing the promises.
      const seen = [...report.coverage?.keys() ?? []].join("\n");
      const must = [...MUST_SEE, ...(open ? MUST_SEE_OPEN : MUST_SEE_WITH_TOKENS)];
      const missing = must.filter((what) => !seen.includes(what));
      if (missing.length > 0) throw new Error(`the run never saw: ${missing.join("; ")}\n${text}`);
      console.log(text);
    },
  });
}
