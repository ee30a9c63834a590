/**
 * The dashboard in a real browser (opt-in: scripts/check-dashboard; needs
 * Chromium, `apt-get install -y chromium`). Not part of `bun test`: CI has
 * no browser. Runs the compiled binary (LAVA_TEST_BINARY, else dist/lava,
 * rebuilt when stale) with two agents on loopback, drives headless Chromium
 * over the DevTools protocol and checks what a person would see: the token
 * form and the API's refusals, hosts with status and a growing load1
 * sparkline, filter and sort, masters, jobs, pause; that the CSP blocks
 * nothing of the page, the token never appears in a URL, and markup in the
 * data stays text. Then the same page on a follower of three masters, and
 * with 10,000 hosts behind a stub API.
 *
 *   scripts/check-dashboard [--screenshot FILE.png] [--keep-open]
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { TestMaster, startAgent, tempDir, writeProcFixture, type Proc } from "../tests/helpers/cluster.ts";
import { TestCluster } from "../tests/helpers/masters.ts";
import { waitFor } from "../tests/helpers/wait.ts";
import { Browser, BROWSER_WAIT_MS as WAIT_MS, findChromium, Page } from "../tests/helpers/browser.ts";
import { dashboardRoutes } from "../src/master/http/dashboard.ts";
import { Router } from "../src/master/http/router.ts";
import { parseFlags } from "../bench/lib/args.ts";

const opts = parseFlags("scripts/check-dashboard", process.argv.slice(2), {
  screenshot: { kind: "string", default: null, help: "save a PNG of the front page here" },
  "keep-open": { kind: "boolean", default: false, help: "leave the browser running at the end, for a look by hand" },
});

let passed = 0;
function ok(what: string): void {
  passed++;
  console.log(`ok ${passed} - ${what}`);
}
function check(cond: unknown, what: string, detail?: unknown): void {
  if (!cond) throw new Error(`${what}${detail === undefined ? "" : `: ${JSON.stringify(detail)}`}`);
  ok(what);
}

async function mint(m: TestMaster, role: string): Promise<string> {
  const r = await m.api<{ token: string }>("/api/v1/tokens", { method: "POST", body: JSON.stringify({ role, subject: `dashboard-${role}` }) });
  if (r.status !== 201) throw new Error(`token create ${role}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.token;
}

async function submit(m: TestMaster, argv: string[]): Promise<number> {
  const r = await m.api<{ id: number }>("/api/v1/jobs", { method: "POST", body: JSON.stringify({ argv }) });
  if (r.status !== 201) throw new Error(`submit ${argv.join(" ")}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.id;
}

async function singleMaster(chromium: string): Promise<void> {
  const m = await TestMaster.start();
  const procs: Proc[] = [];
  const fixtures = tempDir("lava-dash-proc-");
  const browser = await Browser.start(chromium);
  try {
    const n1 = writeProcFixture(join(fixtures, "n1"), { load: [0.5, 0.25, 0.125] });
    const n2 = writeProcFixture(join(fixtures, "n2"), { load: [4, 3, 2] });
    procs.push(startAgent(m, { hostname: "n1", procRoot: n1 }), startAgent(m, { hostname: "n2", procRoot: n2 }));
    await waitFor(async () => {
      const r = await m.api<{ host: string; status: string }[]>("/api/v1/load");
      return r.body.length === 2 && r.body.every((h) => h.status === "ok" || h.status === "busy");
    }, WAIT_MS, "two agents reporting");
    const readToken = await mint(m, "read");
    const agentToken = await mint(m, "agent");

    const page = new Page(browser.page);
    await page.open(`${m.url}/`);
    const reason = (needle: string) => page.until<boolean>(`!document.getElementById("login").hidden && document.getElementById("login-reason").textContent.includes(${JSON.stringify(needle)})`, `the token form saying ${needle}`);
    await reason("401 no_token");
    check(await page.eval("document.getElementById('main').hidden"), "without a token: the form, with the API's reason (401 no_token)");
    await page.signIn(agentToken);
    await reason("403 forbidden");
    check((await page.text("#login-reason")).includes("needs role 'read'"), "an agent token: asked again, with the 403's detail");
    await page.signIn("not-a-token");
    await reason("401 bad_token");
    ok("a malformed token: asked again (401 bad_token)");

    await page.signIn(readToken);
    await page.until<boolean>(`document.querySelectorAll("#hosts-body tr[data-host]").length === 2`, "two host rows");
    check(JSON.stringify(await page.hostRows()) === JSON.stringify(["n2", "n1"]), "hosts sorted by status, worst first (n2 busy before n1 ok)", await page.hostRows());
    const status = await page.eval<{ n1: string; n2: string; c1: string; c2: string }>(`(() => {
      const s = (h) => document.querySelector('#hosts-body tr[data-host="' + h + '"] .st');
      return { n1: s("n1").textContent, n2: s("n2").textContent, c1: getComputedStyle(s("n1")).color, c2: getComputedStyle(s("n2")).color };
    })()`);
    check(status.n1 === "ok" && status.n2 === "busy" && status.c1 !== status.c2, "status with a colour per state (the inline style ran)", status);
    check((await page.text('#hosts-body tr[data-host="n2"] td:nth-child(3)')) === "4.00", "load1 shown");

    await page.eval(`(() => { const s = document.getElementById("interval"); s.value = "2000"; s.dispatchEvent(new Event("change")); })()`);
    await page.until<boolean>(`document.querySelectorAll('#hosts-body tr[data-host="n1"] svg.spark polyline').length === 1`, "a sparkline line for n1");
    ok("a load1 sparkline per host once two samples are in");
    writeProcFixture(n1, { load: [2, 1, 0.5] });
    await page.until<boolean>(`document.querySelector('#hosts-body tr[data-host="n1"] svg.spark title').textContent.includes("max 2.00")`, "n1's sparkline to reach 2.00");
    const pts = await page.eval<number>(`document.querySelector('#hosts-body tr[data-host="n1"] svg.spark polyline').getAttribute("points").split(" ").length`);
    check(pts >= 3, "the sparkline grows with each refresh and follows the load", pts);

    await page.eval(`(() => { const f = document.getElementById("filter"); f.value = "n1"; f.dispatchEvent(new Event("input")); })()`);
    await page.until<boolean>(`document.querySelectorAll("#hosts-body tr[data-host]").length === 1`, "the filter to leave one row");
    check(JSON.stringify(await page.hostRows()) === '["n1"]', "the filter box narrows the table");
    await page.eval(`(() => { const f = document.getElementById("filter"); f.value = "busy"; f.dispatchEvent(new Event("input")); })()`);
    await page.until<boolean>(`document.querySelector("#hosts-body tr[data-host]")?.dataset.host === "n2" && document.querySelectorAll("#hosts-body tr[data-host]").length === 1`, "the filter by status");
    ok("… by status too");
    await page.eval(`(() => { const f = document.getElementById("filter"); f.value = ""; f.dispatchEvent(new Event("input")); document.querySelector('th button[data-sort="host"]').click(); })()`);
    await page.until<boolean>(`[...document.querySelectorAll("#hosts-body tr[data-host]")].map((r) => r.dataset.host).join() === "n1,n2"`, "sort by host name");
    await page.eval(`document.querySelector('th button[data-sort="load1"]').click()`);
    await page.until<boolean>(`[...document.querySelectorAll("#hosts-body tr[data-host]")].map((r) => r.dataset.host).join() === "n2,n1"`, "sort by load1, highest first");
    ok("sort by a column header (host name, load1)");

    check((await page.text("#cards")).includes("hosts2"), "cluster summary: hosts by state", await page.text("#cards"));
    check(/reports accepted\d+/.test(await page.text("#cards")), "cluster summary: ingest accepted and dropped");
    const masters = await page.text("#masters-body");
    check(masters.includes("Leader") && masters.includes("this page"), "masters: the single master is the leader", masters);

    const running = await submit(m, ["/bin/sleep", "60"]);
    const evil = "<img src=x onerror=alert(1)><b>bold</b>";
    const done = await submit(m, ["/bin/echo", evil]);
    await page.until<boolean>(`!!document.querySelector('#jobs-active-body tr[data-job="${running}"]') && document.querySelector('#jobs-active-body tr[data-job="${running}"] .st').textContent === "RUN"`, "the running job in the active table");
    ok("jobs: a running job among the pending and running");
    await page.until<boolean>(`document.querySelector('#jobs-ended-body tr[data-job="${done}"] .st')?.textContent === "DONE"`, "the ended job");
    const cell = await page.text(`#jobs-ended-body tr[data-job="${done}"] td:nth-child(5)`);
    const injected = await page.eval<number>(`document.querySelectorAll("main img, main b").length`);
    check(cell.includes(evil) && injected === 0, "jobs: the ended one; markup in its argv shows as text, no element made of it", { cell, injected });
    check((await page.text("#alerts-body")).includes("no active alerts"), "alerts: none active, and it says so");

    const token = await page.eval<{ stored: string; href: string }>(`({ stored: sessionStorage.getItem("lava.dashboard.token"), href: location.href })`);
    check(token.stored === readToken && !token.href.includes(readToken), "the token is in sessionStorage, not in the URL");
    const api = page.requests.filter((r) => new URL(r.url).pathname.startsWith("/api/"));
    const auth = (r: { headers: Record<string, string> }) => r.headers.Authorization ?? r.headers.authorization ?? null;
    const sent = new Set(api.map(auth));
    const tried = new Set([null, `Bearer ${agentToken}`, "Bearer not-a-token", `Bearer ${readToken}`]);
    check(api.filter((r) => auth(r) === `Bearer ${readToken}`).length > 10 && [...sent].every((a) => tried.has(a)), "API requests carry it as Authorization: Bearer", [...sent]);
    check(page.requests.every((r) => !r.url.includes(readToken) && !r.url.includes("token=") && (r.url.startsWith(m.url) || r.url.startsWith("data:"))), "no request has a token in its URL, none leaves the master's origin", page.requests.map((r) => r.url).filter((u) => !u.startsWith(m.url)));

    await page.eval(`document.getElementById("pause").click()`);
    const paused = Number(await page.eval<string>(`document.documentElement.dataset.refreshes`));
    check((await page.text("#pause")) === "Resume", "pause: the button says Resume");
    // A negative check has no condition to wait for: two and a half refresh intervals without one.
    await Bun.sleep(5000);
    check(Number(await page.eval<string>(`document.documentElement.dataset.refreshes`)) === paused, "… and nothing is fetched while paused");
    await page.eval(`document.getElementById("pause").click()`);
    await page.until<boolean>(`Number(document.documentElement.dataset.refreshes) > ${paused}`, "a refresh after resume");
    ok("resume refreshes again");

    if (opts.screenshot) {
      await page.screenshot(opts.screenshot);
      console.log(`# screenshot: ${opts.screenshot}`);
    }
    await page.eval(`document.getElementById("forget").click()`);
    await page.until<boolean>(`!document.getElementById("login").hidden && sessionStorage.getItem("lava.dashboard.token") === null`, "the form after Forget token");
    ok("Forget token clears it and asks again");

    const csp = await page.eval<string[]>("window.__csp");
    check(csp.length === 0, "the CSP blocked nothing of the page", csp);
    check(page.problems.length === 0, "no script error, no console error or warning", page.problems);
    await m.api(`/api/v1/jobs/${running}/cancel`, { method: "POST" });
  } finally {
    if (!opts["keep-open"]) await browser.stop();
    await Promise.all(procs.map((p) => p.stop()));
    await m.stop();
    m.cleanup();
    rmSync(fixtures, { recursive: true, force: true });
  }
}

async function onFollower(chromium: string): Promise<void> {
  const c = await TestCluster.start(3);
  const browser = await Browser.start(chromium);
  try {
    const leader = await c.leader(WAIT_MS);
    const follower = c.masters.find((x) => x !== leader)!;
    const page = new Page(browser.page);
    await page.open(`${follower.url}/`);
    await page.until<boolean>(`!document.getElementById("login").hidden`, "the token form on the follower");
    await page.signIn(follower.adminToken);
    await page.until<boolean>(`document.querySelectorAll("#masters-body tr").length === 3`, "three masters listed");
    const note = await page.text("#masters-note");
    check(note.includes("is Follower") && note.includes(leader.addr), "on a follower: it says so and names the leader", note);
    const href = await page.eval<string>(`document.querySelector("#masters-note a")?.href ?? ""`);
    check(href === `${leader.url}/`, "… with a link to the leader's dashboard", href);
    check((await page.text("#where")).includes(`answered by the leader ${leader.addr}`), "the API answers come from the leader (proxied)");
    check((await page.text("#hosts-body")).includes("no hosts registered yet"), "an empty cluster says so");
    check(page.problems.length === 0 && (await page.eval<string[]>("window.__csp")).length === 0, "no script error and no CSP block on the follower", page.problems);
  } finally {
    await browser.stop();
    await c.stop();
    c.cleanup();
  }
}

/**
 * 10,000 hosts: the page behind a stub API (the real route serves the page;
 * the API answers are made up), to see that a refresh, a sort and a filter
 * stay well under a frame budget a person would notice.
 */
async function manyHosts(chromium: string): Promise<void> {
  const HOSTS = 10_000;
  const r = new Router();
  dashboardRoutes(r);
  let tick = 0;
  const load = () => {
    tick++;
    const out = [];
    for (let i = 0; i < HOSTS; i++) {
      const l1 = ((i * 7 + tick * 13) % 97) / 10;
      out.push({
        host: `host-${String(i).padStart(5, "0")}`, hostId: i + 1, status: i % 50 === 0 ? "unavail" : l1 > 6 ? "busy" : "ok", ageMs: 1200,
        load1: i % 50 === 0 ? null : l1, load5: 1, load15: 1, memUsed: 2 ** 32, memFree: 2 ** 33, swapUsed: 0, swapFree: 0, ncpus: 4,
        cpuUser: 20, cpuSys: 5, cpuIdle: 75, jobsRunning: 1, jobsPending: 0, procsTotal: 300, flags: 0, lossPct: 0, reportsLost: 0, reportsReceived: 10,
      });
    }
    return out;
  };
  const answers: Record<string, () => unknown> = {
    "/api/v1/status": () => ({ master: { version: "stub", commit: "stub", nodeId: 1, uptimeMs: 1000, insecure: false }, ingest: { accepted: 1, dropped: {}, kernel: null }, hosts: { ok: 1, busy: 0, drained: 0, unavail: 0, unreach: 0, total: HOSTS }, jobs: {}, sessions: HOSTS }),
    "/api/v1/load": load,
    "/api/v1/jobs": () => [],
    "/api/v1/alerts": () => [],
    "/_raft/health": () => ({ node_id: 1, state: "Leader", term: 1, commit_index: 1, last_applied: 1, last_index: 1, leader_id: 1, leader: "stub:1", voters: [1], members: { 1: "stub:1" }, followers: {} }),
    "/_raft/sync-status": () => ({ node_id: 1, is_leader: true, term: 1, commit_index: 1, last_index: 1, followers: [] }),
  };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const path = new URL(req.url).pathname;
      const a = answers[path];
      if (!a) return r.handle(req);
      if (path.startsWith("/api/") && req.headers.get("authorization") !== "Bearer stub-token") return Response.json({ error: "no_token", detail: "stub: send stub-token" }, { status: 401 });
      return Response.json(a());
    },
  });
  const browser = await Browser.start(chromium);
  try {
    const page = new Page(browser.page);
    await browser.page.send("Page.addScriptToEvaluateOnNewDocument", {
      source: "window.__long = []; new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__long.push(Math.round(e.duration)); }).observe({ type: 'longtask', buffered: true });",
    });
    await page.open(`http://127.0.0.1:${server.port}/`);
    await page.until<boolean>(`!document.getElementById("login").hidden`, "the token form");
    await page.signIn("stub-token");
    await page.eval(`(() => { const s = document.getElementById("interval"); s.value = "2000"; s.dispatchEvent(new Event("change")); })()`);
    await page.until<boolean>(`Number(document.documentElement.dataset.refreshes) >= 4`, "four refreshes of 10,000 hosts", 30_000);
    const rows = await page.eval<number>(`document.querySelectorAll("#hosts-body tr[data-host]").length`);
    check(rows === 200 && (await page.text("#hosts-shown")).includes("of 10000"), "10,000 hosts: 200 rows drawn, and it says how many there are", { rows, shown: await page.text("#hosts-shown") });
    const sortMs = await page.eval<number>(`(() => { const t = performance.now(); document.querySelector('th button[data-sort="load1"]').click(); return performance.now() - t; })()`);
    check(sortMs < 150, `10,000 hosts: a sort takes ${sortMs.toFixed(0)} ms`, sortMs);
    await page.eval(`(() => { const f = document.getElementById("filter"); f.value = "host-0999"; f.dispatchEvent(new Event("input")); })()`);
    await page.until<boolean>(`document.querySelectorAll("#hosts-body tr[data-host]").length === 10`, "the filter over 10,000 hosts");
    ok("10,000 hosts: the filter finds the 10 of host-0999x");
    const pts = await page.eval<number>(`document.querySelector('#hosts-body tr[data-host] svg.spark polyline').getAttribute("points").split(" ").length`);
    check(pts >= 4, "10,000 hosts: each keeps its own sparkline", pts);
    const long = await page.eval<number[]>("window.__long");
    const worst = Math.max(0, ...long);
    check(worst < 300, `10,000 hosts: the longest task is ${worst} ms (${long.length} over 50 ms)`, long);
    check(page.problems.length === 0, "10,000 hosts: no script error", page.problems);
  } finally {
    await browser.stop();
    await server.stop(true);
  }
}

const chromium = findChromium();
if (!chromium) {
  console.error("check-dashboard: no Chromium found; install it (Debian: apt-get install -y chromium) or set CHROMIUM=/path/to/chrome");
  process.exit(2);
}
try {
  await singleMaster(chromium);
  await onFollower(chromium);
  await manyHosts(chromium);
  console.log(`check-dashboard: ${passed} passed, 0 failed`);
} catch (e) {
  console.error(`not ok - ${(e as Error).message}`);
  console.log(`check-dashboard: ${passed} passed, 1 failed`);
  process.exit(1);
}
