/**
 * The model-based API test of issue 10 in `deno task test`: 10,000 requests from 8 concurrent
 * clients against a real one-node process, every answer compared with the reference model of
 * docs/api.md (see reference_model.ts). Longer runs: `deno task test:model --requests N`.
 *
 * Replay another seed with `MODEL_SEED=<n> deno test --allow-all tests/api/model/model_test.ts`.
 */

import { formatReport, runModel } from "./runner.ts";

const SEED = Number(Deno.env.get("MODEL_SEED") ?? 20_261_130);
const REQUESTS = 10_000;
const CLIENTS = 8;

Deno.test({
  name: "api model: 10,000 random config and lock requests answer as docs/api.md promises",
  // The node is a child process and the clients' fetches outlive single ops by design.
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const report = await runModel({
      seed: SEED,
      requests: REQUESTS,
      clients: CLIENTS,
      shrinkBudgetMs: 30_000,
    });
    const text = formatReport(report);
    if (report.findings.length > 0) throw new Error(text);
    if (report.requests < REQUESTS) {
      throw new Error(`only ${report.requests} requests were sent (want ${REQUESTS})\n${text}`);
    }
    console.log(text);
  },
});
