/**
 * Renders delivered messages as a readable transcript, one line a message, for scripted
 * interaction tests whose expected output is text (as etcd-io/raft's testdata files are).
 *
 * @module
 */

import type { Message } from "../../src/raft/types.ts";

/**
 * One line per message: `1->2 app term=1 prev=(0,0) entries=[1/1] commit=0`.
 *
 * @example
 * ```ts ignore
 * console.log(transcript(net.log));
 * ```
 */
export function transcript(messages: Message[]): string {
  return messages.map(line).join("\n");
}

function line(m: Message): string {
  const parts = [`${m.from}->${m.to} ${m.type} term=${m.term}`];
  switch (m.type) {
    case "vote":
    case "preVote":
      parts.push(`last=(${m.index},${m.logTerm})`);
      break;
    case "app":
      parts.push(`prev=(${m.index},${m.logTerm})`);
      parts.push(`entries=[${m.entries.map((e) => `${e.index}/${e.term}`).join(",")}]`);
      parts.push(`commit=${m.commit}`);
      break;
    case "appResp":
      parts.push(`index=${m.index}`);
      if (m.reject) parts.push(`reject hint=(${m.rejectHint},${m.logTerm})`);
      break;
    case "heartbeat":
      parts.push(`commit=${m.commit}`);
      break;
  }
  if ((m.type === "voteResp" || m.type === "preVoteResp") && m.reject) parts.push("rejected");
  return parts.join(" ");
}
