/**
 * Scripted interaction tests: the whole conversation of a scenario, compared with a readable
 * transcript, so that any change in the protocol's behaviour shows up as a diff.
 */

import assert from "node:assert/strict";
import { TestNetwork } from "./network.ts";
import { transcript } from "./transcript.ts";

Deno.test("interaction: pre-vote, election, no-op, one proposal, commit spread", () => {
  const net = new TestNetwork({ voters: 3 });
  net.campaign(1);
  net.propose(1, "x");
  assert.equal(
    transcript(net.log),
    `
1->2 preVote term=1 last=(0,0)
1->3 preVote term=1 last=(0,0)
2->1 preVoteResp term=1
3->1 preVoteResp term=1
1->2 vote term=1 last=(0,0)
1->3 vote term=1 last=(0,0)
2->1 voteResp term=1
3->1 voteResp term=1
1->2 app term=1 prev=(0,0) entries=[1/1] commit=0
1->3 app term=1 prev=(0,0) entries=[1/1] commit=0
2->1 appResp term=1 index=1
3->1 appResp term=1 index=1
1->2 app term=1 prev=(1,1) entries=[] commit=1
1->3 app term=1 prev=(1,1) entries=[] commit=1
2->1 appResp term=1 index=1
3->1 appResp term=1 index=1
1->2 app term=1 prev=(1,1) entries=[2/1] commit=1
1->3 app term=1 prev=(1,1) entries=[2/1] commit=1
2->1 appResp term=1 index=2
3->1 appResp term=1 index=2
1->2 app term=1 prev=(2,1) entries=[] commit=2
1->3 app term=1 prev=(2,1) entries=[] commit=2
2->1 appResp term=1 index=2
3->1 appResp term=1 index=2
`.trim(),
  );
});
