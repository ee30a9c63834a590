/**
 * Headless Chromium driven over the DevTools protocol, for the dashboard's
 * browser checks (tests/e2e/dashboard-browser.test.ts, scripts/check-dashboard):
 * a minimal CDP client, the browser process, and the page under test with
 * what the browser complained about (exceptions, console errors, CSP blocks).
 * Flags as node.md says work on these machines (no background networking:
 * the network is closed and Chromium would keep trying).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "./wait.ts";

export const BROWSER_WAIT_MS = 20_000;

// ---- a minimal DevTools protocol client ----------------------------------
export type Json = Record<string, unknown>;
export class Cdp {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: Json) => void; reject: (e: Error) => void; method: string }>();
  private readonly listeners: ((method: string, params: Json) => void)[] = [];
  private constructor(private readonly ws: WebSocket) {
    ws.addEventListener("message", (ev) => {
      const msg = JSON.parse(String(ev.data)) as { id?: number; result?: Json; error?: { message: string }; method?: string; params?: Json };
      if (msg.id !== undefined) {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (msg.error) p?.reject(new Error(`${p.method}: ${msg.error.message}`));
        else p?.resolve(msg.result ?? {});
      } else if (msg.method) for (const l of this.listeners) l(msg.method, msg.params ?? {});
    });
  }
  static async connect(url: string): Promise<Cdp> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener("open", () => resolve(), { once: true });
      ws.addEventListener("error", () => reject(new Error(`cannot connect to ${url}`)), { once: true });
    });
    return new Cdp(ws);
  }
  send(method: string, params: Json = {}): Promise<Json> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }
  on(l: (method: string, params: Json) => void): void {
    this.listeners.push(l);
  }
  close(): void {
    this.ws.close();
  }
}

export function findChromium(): string | null {
  for (const name of [process.env.CHROMIUM, "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]) {
    if (!name) continue;
    const p = Bun.which(name) ?? (existsSync(name) ? name : null);
    if (p) return p;
  }
  return null;
}

export class Browser {
  private constructor(
    private readonly proc: ReturnType<typeof Bun.spawn>,
    private readonly profile: string,
    readonly page: Cdp,
  ) {}
  static async start(bin: string): Promise<Browser> {
    const profile = mkdtempSync(join(tmpdir(), "lava-chromium-"));
    const proc = Bun.spawn(
      [bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--no-default-browser-check", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions", "--window-size=1400,1000", `--user-data-dir=${profile}`, "--remote-debugging-port=0", "about:blank"],
      { stdin: "ignore", stdout: "ignore", stderr: "ignore" },
    );
    // Chromium writes the port it got (and the browser's path) here.
    const port = await waitFor(() => {
      if (proc.exitCode !== null) throw new Error(`chromium exited ${proc.exitCode}`);
      const f = join(profile, "DevToolsActivePort");
      return existsSync(f) ? readFileSync(f, "utf8").split("\n")[0]?.trim() || null : null;
    }, BROWSER_WAIT_MS, "chromium's DevTools port");
    const target = await waitFor(async () => {
      const list = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { type: string; webSocketDebuggerUrl: string }[];
      return list.find((t) => t.type === "page") ?? null;
    }, BROWSER_WAIT_MS, "a page target");
    return new Browser(proc, profile, await Cdp.connect(target.webSocketDebuggerUrl));
  }
  async stop(): Promise<void> {
    this.page.close();
    this.proc.kill();
    await this.proc.exited;
    rmSync(this.profile, { recursive: true, force: true });
  }
}

/** The page under test: evaluation helpers, and everything the browser complained about. */
export class Page {
  readonly problems: string[] = [];
  readonly requests: { url: string; headers: Record<string, string> }[] = [];
  constructor(readonly cdp: Cdp) {
    cdp.on((method, p) => {
      if (method === "Runtime.exceptionThrown") this.problems.push(`exception: ${JSON.stringify((p.exceptionDetails as Json | undefined)?.exception ?? p)}`);
      if (method === "Runtime.consoleAPICalled" && (p.type === "error" || p.type === "warning")) this.problems.push(`console.${p.type}: ${JSON.stringify(p.args)}`);
      if (method === "Log.entryAdded") {
        const e = p.entry as { level: string; text: string; url?: string; source: string };
        // The refusals this check provokes on purpose are logged as failed loads: not problems.
        const refused = e.source === "network" && / status of 40[13] /.test(e.text);
        if ((e.level === "error" || e.level === "warning") && !refused) this.problems.push(`log ${e.level}: ${e.text} ${e.url ?? ""}`);
      }
      if (method === "Network.requestWillBeSent") {
        const r = p.request as { url: string; headers: Record<string, string> };
        this.requests.push({ url: r.url, headers: r.headers });
      }
    });
  }
  async open(url: string): Promise<void> {
    await this.cdp.send("Runtime.enable");
    await this.cdp.send("Log.enable");
    await this.cdp.send("Network.enable");
    await this.cdp.send("Page.enable");
    // Injected by DevTools (outside the page's CSP): collects what the CSP blocked.
    await this.cdp.send("Page.addScriptToEvaluateOnNewDocument", {
      source: "window.__csp = []; document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));",
    });
    await this.cdp.send("Page.navigate", { url });
  }
  async eval<T = unknown>(expression: string): Promise<T> {
    const r = (await this.cdp.send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true })) as { result: { value?: T }; exceptionDetails?: Json };
    if (r.exceptionDetails) throw new Error(`evaluate failed: ${expression}: ${JSON.stringify(r.exceptionDetails)}`);
    return r.result.value as T;
  }
  until<T>(expression: string, what: string, timeoutMs = BROWSER_WAIT_MS): Promise<NonNullable<T>> {
    return waitFor(() => this.eval<T>(expression), timeoutMs, what, 50);
  }
  /** Types a token into the form and submits it, as a person would. */
  async signIn(token: string): Promise<void> {
    await this.eval(`(() => { const i = document.getElementById("token"); i.value = ${JSON.stringify(token)}; document.getElementById("login-form").requestSubmit(); })()`);
  }
  text(sel: string): Promise<string> {
    return this.eval<string>(`document.querySelector(${JSON.stringify(sel)})?.textContent ?? ""`);
  }
  hostRows(): Promise<string[]> {
    return this.eval<string[]>(`[...document.querySelectorAll("#hosts-body tr[data-host]")].map((r) => r.dataset.host)`);
  }
  async screenshot(file: string): Promise<void> {
    const r = (await this.cdp.send("Page.captureScreenshot", { format: "png", captureBeyondViewport: true })) as { data: string };
    writeFileSync(file, Buffer.from(r.data, "base64"));
  }
}

