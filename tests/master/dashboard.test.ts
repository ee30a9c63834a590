/**
 * The dashboard at `/` (design §10, docs/api.md "Dashboard"): the route and
 * its headers without a socket, what the embedded page holds, and against
 * the compiled binary that the page is served and every API path its
 * script reads is a real route. The page in a real browser:
 * scripts/check-dashboard (opt-in, needs Chromium).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { composePage, dashboardPage, dashboardRoutes, inlineBlocks } from "../../src/master/http/dashboard.ts";
import { Router } from "../../src/master/http/router.ts";
import { TestMaster } from "../helpers/cluster.ts";
import { TestCluster } from "../helpers/masters.ts";
import { teardown } from "../helpers/teardown.ts";

/** The page as written (its own markup and script), and as served (with uPlot put in). */
const SOURCE = readFileSync(join(import.meta.dir, "../../src/master/http/dashboard/index.html"), "utf8");
const PAGE = composePage(SOURCE);
const OWN_SCRIPT = inlineBlocks(SOURCE, "script")[0] ?? "";
const SCRIPT = inlineBlocks(PAGE, "script")[0] ?? "";
const STYLE = inlineBlocks(PAGE, "style")[0] ?? "";
const sha256 = (s: string) => `'sha256-${new Bun.CryptoHasher("sha256").update(s).digest("base64")}'`;

/** The paths the page's script fetches: every whole string literal naming an API or Raft path. */
function fetchedPaths(script: string): string[] {
  return [...script.matchAll(/"(\/(?:api\/v1|_raft)\/[^"]*)"/g)].map((m) => m[1]!);
}

function router(): Router {
  const r = new Router();
  dashboardRoutes(r);
  return r;
}
const get = (path: string, init: RequestInit = {}) => router().handle(new Request(`http://lava.test${path}`, init));

function csp(res: Response): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (res.headers.get("content-security-policy") ?? "").split(";")) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) out.set(name, values.join(" "));
  }
  return out;
}

describe("GET / (no socket)", () => {
  test("answers the embedded page as UTF-8 HTML, without a token", async () => {
    const res = await get("/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await res.text()).toBe(PAGE);
  });

  test("a strict CSP: this build's inline script and style by hash, nothing inline or remote besides", async () => {
    const res = await get("/");
    const p = csp(res);
    expect(p.get("default-src")).toBe("'self'");
    expect(p.get("script-src")).toBe(sha256(SCRIPT));
    expect(p.get("style-src")).toBe(sha256(STYLE));
    expect(p.get("connect-src")).toBe("'self'");
    expect(p.get("frame-ancestors")).toBe("'none'");
    expect(p.get("form-action")).toBe("'none'");
    expect(p.get("base-uri")).toBe("'none'");
    expect(p.get("object-src")).toBe("'none'");
    expect(res.headers.get("content-security-policy")).not.toMatch(/unsafe-inline|unsafe-eval|https?:|\*/);
  });

  test("no framing, no sniffing, no referrer; revalidated by ETag", async () => {
    const res = await get("/");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(res.headers.get("cache-control")).toBe("no-cache");
    const etag = res.headers.get("etag")!;
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
    for (const inm of [etag, `W/${etag}`, `"other", ${etag}`, "*"]) {
      const again = await get("/", { headers: { "if-none-match": inm } });
      expect(again.status).toBe(304);
      expect(await again.text()).toBe("");
    }
    expect((await get("/", { headers: { "if-none-match": '"other"' } })).status).toBe(200);
  });

  test("HEAD has the headers and no body", async () => {
    const res = await get("/", { method: "HEAD" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).toBe(String(Buffer.byteLength(PAGE)));
    expect(res.headers.get("content-security-policy")).toContain("script-src 'sha256-");
    expect(await res.text()).toBe("");
  });

  test("only / is the page: other paths stay 404, other methods 405", async () => {
    expect((await get("/index.html")).status).toBe(404);
    expect((await get("/dashboard")).status).toBe(404);
    expect((await get("/", { method: "POST" })).status).toBe(405);
  });

  test("a page the CSP could not cover is refused at start-up", () => {
    const ok = "<style>a{}</style><script>1</script>";
    expect(() => dashboardPage(ok)).not.toThrow();
    expect(() => dashboardPage(ok + '<script src="x.js"></script>')).toThrow(/exactly one <script>/);
    expect(() => dashboardPage("<style>a{}</style><script>1</script><script>2</script>")).toThrow(/exactly one <script>/);
    expect(() => dashboardPage('<style>a{}</style><script type="module">1</script>')).toThrow(/exactly one <script>/);
    expect(() => dashboardPage("<script>1</script>")).toThrow(/one <style>/);
  });
});

describe("the embedded page", () => {
  test("has the sections: token form, cluster, masters, hosts with sparklines, alerts, jobs; a pause button and a filter", () => {
    for (const id of ["login-form", "cluster", "masters", "hosts", "hosts-body", "alerts", "jobs", "jobs-active-body", "jobs-ended-body", "pause", "filter", "interval", "banner"]) {
      expect(PAGE).toContain(`id="${id}"`);
    }
    expect(OWN_SCRIPT).toContain("createElementNS(SVG_NS");
    expect(OWN_SCRIPT).toContain('"polyline"');
    expect(OWN_SCRIPT).toMatch(/const SAMPLES_MAX = \d+;/);
    expect(OWN_SCRIPT).toMatch(/const HOST_ROWS_MAX = \d+;/);
  });

  test("has the host page (uPlot charts over 1 h / 24 h / 30 d, telemetry, jobs), the job page and the heatmap", () => {
    for (const id of ["host-view", "host-charts", "host-telemetry", "host-jobs", "job-view", "job-history", "job-stdout", "job-pending", "heatmap"]) expect(PAGE).toContain(`id="${id}"`);
    for (const r of ["1h", "24h", "30d"]) expect(PAGE).toContain(`data-range="${r}"`);
    expect(OWN_SCRIPT).toContain("new uPlot(");
    // uPlot itself is in the served script, ahead of the page's own code, and nowhere else.
    expect(SCRIPT.indexOf("uPlot")).toBeGreaterThanOrEqual(0);
    expect(SCRIPT.indexOf("uPlot")).toBeLessThan(SCRIPT.indexOf("const PATHS = Object.freeze"));
    expect(SOURCE).toContain("/*!uplot-js*/");
    expect(PAGE).not.toContain("/*!uplot-js*/");
    expect(PAGE).not.toContain("/*!uplot-css*/");
  });

  test("the sign-in box speaks to a browser user; the CLI command is only a hint for administrators", () => {
    const form = SOURCE.slice(SOURCE.indexOf('<form id="login-form"'), SOURCE.indexOf("</form>"));
    const firstPara = form.slice(form.indexOf("<p>"), form.indexOf("</p>", form.indexOf("<p>")));
    expect(firstPara).toContain("access token");
    expect(firstPara).not.toMatch(/lava ctl|--role/);
    expect(form).toContain("<details>");
  });

  test("the script is valid JavaScript", () => {
    // Compiled, not run: there is no DOM here.
    expect(() => new Function(SCRIPT)).not.toThrow();
    expect(() => new Function(OWN_SCRIPT)).not.toThrow();
  });

  test("no external assets: no src attribute, no stylesheet link, no remote URL", () => {
    expect(PAGE).not.toMatch(/\ssrc\s*=/i);
    expect(PAGE).not.toMatch(/<link[^>]+stylesheet/i);
    // Links are data: (the icon) or within the page (#…).
    for (const m of PAGE.matchAll(/\shref\s*=\s*"([^"]*)"/gi)) expect(m[1]!.startsWith("data:") || m[1]!.startsWith("#")).toBe(true);
    // The page's one absolute URL is the SVG namespace, which is a name, not a fetch; uPlot's is its licence comment.
    expect([...SOURCE.matchAll(/https?:\/\/[^\s"'`)]+/g)].map((m) => m[0])).toEqual(["http://www.w3.org/2000/svg"]);
    expect([...PAGE.matchAll(/https?:\/\/[^\s"'`)]+/g)].map((m) => m[0]).filter((u) => u !== "http://www.w3.org/2000/svg")).toEqual(["https://github.com/leeoniya/uPlot"]);
  });

  test("data reaches the DOM as text only: no markup sinks, no eval", () => {
    expect(OWN_SCRIPT).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setAttribute\(\s*"(style|on)/);
    // uPlot builds its DOM with createElement and textContent too.
    expect(SCRIPT).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function/);
  });

  test("the token: a header from sessionStorage, never a URL; the form cannot submit it anywhere", () => {
    expect(OWN_SCRIPT).toContain("sessionStorage");
    expect(OWN_SCRIPT).toContain('"Bearer " + token');
    expect(OWN_SCRIPT).not.toMatch(/token=|localStorage|document\.cookie/);
    expect(PAGE).toMatch(/<form id="login-form" method="post"/);
    expect(OWN_SCRIPT).toContain("ev.preventDefault()");
  });

  test("401 and 403 bring the token form back with the API's reason", () => {
    expect(OWN_SCRIPT).toContain("e.status === 401 || e.status === 403");
    expect(OWN_SCRIPT).toMatch(/body\.error/);
    expect(OWN_SCRIPT).toMatch(/body\.detail/);
  });

  test("reads status, load, jobs (active and ended), alerts, Raft health and sync-status, history, hosts and jobs one by one", () => {
    const paths = fetchedPaths(OWN_SCRIPT).map((p) => p.split("?")[0]!.replace(/\/$/, ""));
    expect(new Set(paths)).toEqual(new Set(["/api/v1/status", "/api/v1/load", "/api/v1/jobs", "/api/v1/alerts", "/_raft/health", "/_raft/sync-status", "/api/v1/history", "/api/v1/hosts"]));
    // The load table asks only for the columns it shows.
    expect(fetchedPaths(OWN_SCRIPT).find((p) => p.startsWith("/api/v1/load"))).toContain("?fields=");
  });
});

describe("the compiled master", () => {
  let m: TestMaster;
  let readToken: string;
  beforeAll(async () => {
    m = await TestMaster.start();
    const r = await m.api<{ token: string }>("/api/v1/tokens", { method: "POST", body: JSON.stringify({ role: "read", subject: "dashboard-test" }) });
    expect(r.status).toBe(201);
    readToken = r.body.token;
  }, 20_000);
  afterAll(() => teardown({ masters: [m] }));

  test("serves the embedded page at / with its CSP", async () => {
    const res = await fetch(`${m.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(csp(res).get("script-src")).toBe(sha256(SCRIPT));
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(await res.text()).toBe(PAGE);
    const head = await fetch(`${m.url}/`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(Buffer.byteLength(PAGE)));
  });

  test("every path the page fetches is a route: /api/v1 answers 401 without a token and 200 with a read token; /_raft needs none", async () => {
    const paths = fetchedPaths(OWN_SCRIPT);
    expect(paths.length).toBeGreaterThanOrEqual(9);
    for (const p of paths) {
      if (p.startsWith("/api/v1/")) {
        const anon = await m.api<{ error: string; detail: string }>(p, { token: null });
        expect({ p, status: anon.status, error: anon.body.error }).toEqual({ p, status: 401, error: "no_token" });
        expect(anon.body.detail).toContain("token");
      }
      const ok = await m.api(p, { token: p.startsWith("/api/v1/") ? readToken : null });
      expect({ p, status: ok.status }).toEqual({ p, status: 200 });
      expect(ok.body).toBeObject();
    }
  });

  test("a token of another role is a 403 with the reason the page shows", async () => {
    const agent = await m.api<{ token: string }>("/api/v1/tokens", { method: "POST", body: JSON.stringify({ role: "agent" }) });
    const r = await m.api<{ error: string; detail: string }>("/api/v1/status", { token: agent.body.token });
    expect(r.status).toBe(403);
    expect(r.body).toEqual({ error: "forbidden", detail: expect.stringContaining("needs role 'read'") });
  });
});

describe("on a follower", () => {
  let c: TestCluster;
  beforeAll(async () => {
    c = await TestCluster.start(3);
  }, 30_000);
  afterAll(() => teardown({ masters: [c] }));

  test("the page is served locally and its API calls reach the leader", async () => {
    const leader = await c.leader(15_000);
    const follower = c.masters.find((x) => x !== leader)!;
    const page = await fetch(`${follower.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("x-lava-served-by")).toBeNull();
    expect(await page.text()).toBe(PAGE);
    const health = await follower.api<{ state: string; leader: string }>("/_raft/health", { token: null });
    expect(health.body).toMatchObject({ state: "Follower", leader: leader.addr });
    const res = await fetch(`${follower.url}/api/v1/status`, { headers: { authorization: `Bearer ${leader.adminToken}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-lava-served-by")).toBe(leader.addr);
  }, 20_000);
});
