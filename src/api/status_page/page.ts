/**
 * The status page every node serves at `GET /`: one HTML document with its style and script
 * inline (no build step, no CDN, nothing fetched but `GET /v1/status` once a second). The script
 * writes text only through `textContent`: lock owners and keys are anyone's strings.
 *
 * @module
 */

/**
 * How often the page polls `GET /v1/status` (ms).
 *
 * @example
 * ```ts
 * import { STATUS_POLL_MS } from "./page.ts";
 * console.log(STATUS_POLL_MS); // 1000
 * ```
 */
export const STATUS_POLL_MS = 1000;

/**
 * The Content-Security-Policy the page is served with: its own inline style and script, and
 * requests to its own origin only.
 *
 * @example
 * ```ts
 * import { STATUS_PAGE_CSP } from "./page.ts";
 * console.log(STATUS_PAGE_CSP.includes("connect-src 'self'")); // true
 * ```
 */
export const STATUS_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; " +
  "script-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const STYLE = `
:root { color-scheme: light dark; --bg: #fff; --fg: #1a1a1a; --muted: #5c5c5c; --line: #d0d0d0;
  --ok: #0a6b2a; --bad: #b00020; --warn-bg: #fff3cd; --warn-fg: #5c4400; --accent: #0b57d0; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #121212; --fg: #e8e8e8; --muted: #a8a8a8; --line: #3a3a3a; --ok: #6fdc8c;
    --bad: #ff8a80; --warn-bg: #3d3000; --warn-fg: #ffe08a; --accent: #8ab4f8; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header, main, footer { max-width: 70rem; margin: 0 auto; padding: 0.75rem 1rem; }
header { display: flex; flex-wrap: wrap; gap: 0.5rem 1.5rem; align-items: baseline; }
h1 { font-size: 1.3rem; margin: 0; }
h2 { font-size: 1.05rem; margin: 1.5rem 0 0.5rem; }
.muted, caption { color: var(--muted); }
caption { text-align: left; font-size: 0.85rem; padding-bottom: 0.25rem; }
dl { display: grid; grid-template-columns: repeat(auto-fill, minmax(9.5rem, 1fr)); gap: 0.5rem 1rem;
  margin: 0; }
dl div { border: 1px solid var(--line); border-radius: 6px; padding: 0.4rem 0.6rem; }
dt { color: var(--muted); font-size: 0.8rem; }
dd { margin: 0; font-size: 1.1rem; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 0.3rem 0.6rem; border-bottom: 1px solid var(--line);
  vertical-align: top; }
td { overflow-wrap: anywhere; }
th { font-size: 0.85rem; color: var(--muted); font-weight: 600; }
.ok { color: var(--ok); } .bad { color: var(--bad); font-weight: 600; }
[role="alert"] { background: var(--warn-bg); color: var(--warn-fg); border-radius: 6px;
  padding: 0.6rem 0.8rem; margin: 0.5rem 0; font-weight: 600; }
form { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: center; margin: 0.5rem 0; }
input, button { font: inherit; padding: 0.3rem 0.6rem; border: 1px solid var(--line);
  border-radius: 4px; background: var(--bg); color: var(--fg); }
button { cursor: pointer; }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.skip { position: absolute; left: -999px; } .skip:focus { left: 1rem; top: 0.5rem; }
[hidden] { display: none !important; }
`;

const SCRIPT = `
"use strict";
const KEY = "edgeraft-token";
const $ = (id) => document.getElementById(id);
const state = { timer: 0 };

function token() { return sessionStorage.getItem(KEY) || ""; }

function text(el, value) { el.textContent = value === null || value === undefined ? "—" : String(value); }

function cell(row, value, cls) {
  const td = document.createElement("td");
  text(td, value);
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function fill(tbody, items, render, emptyText, columns) {
  const rows = items.map((item) => { const tr = document.createElement("tr"); render(tr, item); return tr; });
  if (rows.length === 0) {
    const tr = document.createElement("tr");
    const td = cell(tr, emptyText, "muted");
    td.colSpan = columns;
    rows.push(tr);
  }
  tbody.replaceChildren(...rows);
}

function duration(ms) {
  if (ms === null || ms === undefined) return "—";
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return s + " s";
  const m = Math.floor(s / 60);
  if (m < 60) return m + " min " + (s % 60) + " s";
  const h = Math.floor(m / 60);
  if (h < 48) return h + " h " + (m % 60) + " min";
  return Math.floor(h / 24) + " d " + (h % 24) + " h";
}

function when(ms, now) { return ms === null ? "not known here" : duration(now - ms) + " ago"; }

function show(s) {
  const main = $("content");
  main.hidden = false;
  main.dataset.nodeId = s.nodeId;
  $("leader").dataset.value = s.leaderId === null ? "" : String(s.leaderId);
  text($("leader"), s.leaderId === null ? "none" : "node " + s.leaderId);
  text($("term"), s.term);
  text($("role"), s.role);
  text($("commit"), s.commitIndex);
  text($("applied"), s.appliedIndex);
  text($("lag"), s.applyLagEntries);
  text($("version"), s.version);
  text($("uptime"), duration(s.uptimeMs));
  text($("node"), "node " + s.nodeId + " of " + s.clusterId);
  $("no-leader").hidden = s.leaderId !== null;
  fill($("members"), s.members, (tr, m) => {
    tr.dataset.memberId = m.id;
    tr.dataset.role = m.role;
    const name = m.url ? m.id + " (" + m.url + ")" : String(m.id);
    cell(tr, m.self ? name + " — this node" : name);
    cell(tr, m.role);
    if (m.reachable === null) cell(tr, "this node", "muted");
    else cell(tr, m.reachable ? "reachable" : "unreachable", m.reachable ? "ok" : "bad");
    cell(tr, m.matchIndex);
    cell(tr, m.appliedIndex);
    cell(tr, m.lagEntries);
  }, "no members", 6);
  fill($("locks"), s.locks, (tr, l) => {
    tr.dataset.lock = l.name;
    cell(tr, l.name);
    cell(tr, l.holder.owner === "" ? "(no owner)" : l.holder.owner);
    cell(tr, l.holder.token);
    cell(tr, duration(l.holder.expiresAt - s.now));
    cell(tr, l.waiters.length === 0 ? "none"
      : l.waiters.map((w) => (w.owner || "(no owner)") + " until " + duration(w.deadline - s.now)).join(", "));
  }, "no locks are held", 5);
  text($("locks-more"), s.locksTotal > s.locks.length
    ? "showing " + s.locks.length + " of " + s.locksTotal + " locks" : "");
  fill($("changes"), s.changes, (tr, c) => {
    cell(tr, c.key);
    cell(tr, c.type);
    cell(tr, c.revision);
    cell(tr, when(c.appliedAt, s.now));
  }, "no config changes yet", 4);
  text($("updated"), "updated " + new Date().toLocaleTimeString());
}

function problem(message, needToken) {
  $("problem").hidden = false;
  text($("problem"), message);
  if (!needToken) return;
  $("content").hidden = true;
  // Focus the field when it appears, not at every poll: that would pull focus away each second.
  if ($("token-form").hidden) { $("token-form").hidden = false; $("token").focus(); }
}

async function refresh() {
  clearTimeout(state.timer);
  const headers = token() ? { authorization: "Bearer " + token() } : {};
  try {
    const res = await fetch("/v1/status", { headers, cache: "no-store" });
    if (res.status === 401 || res.status === 403) {
      const body = await res.json().catch(() => ({}));
      problem(token() ? "This token may not read the status (" + (body.detail || res.status) + ")."
        : "This node requires an API token with the admin scope.", true);
    } else if (!res.ok) {
      problem("The node answered " + res.status + ".", false);
    } else {
      $("problem").hidden = true;
      $("token-form").hidden = !token();
      show(await res.json());
    }
  } catch (e) {
    problem("This node does not answer (" + e.message + "); retrying.", false);
    $("no-leader").hidden = true;
  }
  state.timer = setTimeout(refresh, ${STATUS_POLL_MS});
}

$("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const value = $("token").value.trim();
  if (value) sessionStorage.setItem(KEY, value);
  $("token").value = "";
  refresh();
});
$("forget").addEventListener("click", () => { sessionStorage.removeItem(KEY); refresh(); });
refresh();
`;

/**
 * The page's HTML (a few KB), served as it is.
 *
 * @example
 * ```ts
 * import { statusPageHtml } from "./page.ts";
 * console.log(statusPageHtml().startsWith("<!doctype html>")); // true
 * ```
 */
export function statusPageHtml(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>edgeraft status</title>
<style>${STYLE}</style>
</head>
<body>
<a class="skip" href="#content">Skip to the status</a>
<header>
  <h1>edgeraft</h1>
  <span id="node" class="muted"></span>
  <span id="updated" class="muted" aria-live="off"></span>
</header>
<main>
  <div id="problem" role="alert" hidden></div>
  <div id="no-leader" role="alert" hidden>This node knows no leader: writes and linearizable
    reads fail until one is elected.</div>
  <form id="token-form" hidden aria-label="API token">
    <label for="token">API token</label>
    <input id="token" type="password" autocomplete="off" spellcheck="false">
    <button type="submit">Use token</button>
    <button type="button" id="forget">Forget token</button>
    <span class="muted">kept in this tab only (session storage)</span>
  </form>
  <div id="content" hidden tabindex="-1">
    <section aria-labelledby="h-node">
      <h2 id="h-node">This node</h2>
      <dl>
        <div><dt>Leader</dt><dd id="leader"></dd></div>
        <div><dt>Term</dt><dd id="term"></dd></div>
        <div><dt>Role</dt><dd id="role"></dd></div>
        <div><dt>Commit index</dt><dd id="commit"></dd></div>
        <div><dt>Applied index</dt><dd id="applied"></dd></div>
        <div><dt>Apply lag (entries)</dt><dd id="lag"></dd></div>
        <div><dt>Version</dt><dd id="version"></dd></div>
        <div><dt>Uptime</dt><dd id="uptime"></dd></div>
      </dl>
    </section>
    <section aria-labelledby="h-members">
      <h2 id="h-members">Members</h2>
      <div class="scroll" tabindex="0" role="region" aria-labelledby="h-members">
      <table>
        <caption>Match index and lag are known on the leader only.</caption>
        <thead><tr><th scope="col">Node</th><th scope="col">Role</th><th scope="col">Reachable</th>
          <th scope="col">Match index</th><th scope="col">Applied index</th>
          <th scope="col">Lag (entries)</th></tr></thead>
        <tbody id="members"></tbody>
      </table>
      </div>
    </section>
    <section aria-labelledby="h-locks">
      <h2 id="h-locks">Locks held</h2>
      <div class="scroll" tabindex="0" role="region" aria-labelledby="h-locks">
      <table>
        <caption id="locks-more"></caption>
        <thead><tr><th scope="col">Name</th><th scope="col">Owner</th><th scope="col">Token</th>
          <th scope="col">Time left</th><th scope="col">Waiting</th></tr></thead>
        <tbody id="locks"></tbody>
      </table>
      </div>
    </section>
    <section aria-labelledby="h-changes">
      <h2 id="h-changes">Last config changes</h2>
      <div class="scroll" tabindex="0" role="region" aria-labelledby="h-changes">
      <table>
        <thead><tr><th scope="col">Key</th><th scope="col">Change</th><th scope="col">Revision</th>
          <th scope="col">When</th></tr></thead>
        <tbody id="changes"></tbody>
      </table>
      </div>
    </section>
  </div>
</main>
<footer class="muted">Polls <code>GET /v1/status</code> every ${
    STATUS_POLL_MS / 1000
  } s; the same numbers are in <code>/v1/cluster</code>, <code>/v1/locks/{name}</code> and
  <code>/metrics</code>.</footer>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
