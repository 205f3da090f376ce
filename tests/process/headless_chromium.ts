/**
 * Headless Chromium for tests, driven over the DevTools protocol on a WebSocket: no npm
 * package, only the browser Debian ships (`apt-get install chromium`; `.ci/run` does).
 *
 * @module
 */

import { poll } from "./poll.ts";

/**
 * The Chromium binary: `$CHROMIUM`, else the first of the usual names on the PATH; undefined
 * when there is none (tests then skip and say so).
 *
 * @example
 * ```ts ignore
 * const binary = findChromium();
 * ```
 */
export function findChromium(): string | undefined {
  const fromEnv = Deno.env.get("CHROMIUM");
  const candidates = fromEnv ? [fromEnv] : [];
  const dirs = (Deno.env.get("PATH") ?? "/usr/bin").split(":");
  for (const name of ["chromium", "chromium-browser", "google-chrome"]) {
    for (const dir of dirs) candidates.push(`${dir}/${name}`);
  }
  for (const path of candidates) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * One headless browser with one page, and the protocol calls a test needs.
 *
 * @example
 * ```ts ignore
 * const browser = await HeadlessChromium.launch(findChromium()!);
 * await browser.navigate("http://127.0.0.1:7001/");
 * console.log(await browser.evaluate("document.title"));
 * await browser.close();
 * ```
 */
export class HeadlessChromium {
  readonly #child: Deno.ChildProcess;
  readonly #dir: string;
  readonly #socket: WebSocket;
  readonly #waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  #nextId = 1;

  private constructor(child: Deno.ChildProcess, dir: string, socket: WebSocket) {
    this.#child = child;
    this.#dir = dir;
    this.#socket = socket;
    socket.onmessage = (event) => {
      const message = JSON.parse(String(event.data));
      const waiter = this.#waiting.get(message.id);
      if (!waiter) return;
      this.#waiting.delete(message.id);
      if (message.error) waiter.reject(new Error(`${message.error.message}`));
      else waiter.resolve(message.result);
    };
  }

  /** Starts the browser with a blank page and connects to that page. */
  static async launch(binary: string, size = { width: 1100, height: 900 }) {
    const dir = await Deno.makeTempDir({ prefix: "edgeraft-chromium-" });
    const child = new Deno.Command(binary, {
      args: [
        "--headless=new",
        "--no-sandbox", // tests run as root in containers
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--hide-scrollbars",
        `--user-data-dir=${dir}`,
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
        `--window-size=${size.width},${size.height}`,
        "about:blank",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    try {
      const port = await devToolsPort(child.stderr);
      const page = await poll(async () => {
        const res = await fetch(`http://127.0.0.1:${port}/json/list`);
        const targets = await res.json() as { type: string; webSocketDebuggerUrl: string }[];
        return targets.find((t) => t.type === "page")?.webSocketDebuggerUrl;
      }, { what: "chromium's page target", timeoutMs: 15_000, intervalMs: 50 });
      const socket = new WebSocket(page);
      await new Promise<void>((resolve, reject) => {
        socket.onopen = () => resolve();
        socket.onerror = () => reject(new Error("could not connect to chromium's page"));
      });
      return new HeadlessChromium(child, dir, socket);
    } catch (e) {
      child.kill("SIGKILL");
      await child.status;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw e;
    }
  }

  /** Sends one protocol command and resolves with its result. */
  send(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      this.#socket.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Loads `url` in the page. */
  async navigate(url: string): Promise<void> {
    await this.send("Page.enable");
    await this.send("Page.navigate", { url });
  }

  /** The value of a JavaScript expression in the page (awaited, returned by value). */
  async evaluate<T>(expression: string): Promise<T> {
    const result = await this.send("Runtime.evaluate", {
      expression,
      returnByValue: true,
      awaitPromise: true,
    }) as { result: { value: T }; exceptionDetails?: { text: string } };
    if (result.exceptionDetails) throw new Error(result.exceptionDetails.text);
    return result.result.value;
  }

  /** A PNG of the page as it is shown. */
  async screenshot(): Promise<Uint8Array> {
    const { data } = await this.send("Page.captureScreenshot", { format: "png" }) as {
      data: string;
    };
    return Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  }

  /** Stops the browser and removes its profile. */
  async close(): Promise<void> {
    for (const waiter of this.#waiting.values()) waiter.reject(new Error("browser closed"));
    this.#waiting.clear();
    const closed = new Promise((resolve) => this.#socket.onclose = resolve);
    this.#socket.close();
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1000))]);
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await this.#child.status;
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }
}

/** Reads chromium's stderr until it says where DevTools listens; keeps draining it after. */
async function devToolsPort(stderr: ReadableStream<Uint8Array>): Promise<number> {
  const reader = stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  const deadline = setTimeout(() => reader.cancel("timeout"), 20_000);
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += value;
      const match = /DevTools listening on ws:\/\/[^:]+:(\d+)\//.exec(seen);
      if (match) {
        // Drain the rest, so the browser never blocks on a full pipe.
        (async () => {
          while (!(await reader.read()).done) { /* discard */ }
        })().catch(() => {});
        return Number(match[1]);
      }
    }
  } finally {
    clearTimeout(deadline);
  }
  throw new Error(`chromium did not start its DevTools server:\n${seen.slice(-2000)}`);
}
