/**
 * The dashboard in a real headless Chromium, against the compiled binary
 * (part of CI: .ci/run installs Debian's chromium when it is missing; without
 * one this says so loudly and skips). Two agents report, one sends
 * telemetry; the front page must draw the hosts and the heatmap, a host page
 * its uPlot charts from the history API and its telemetry, a job page its
 * output; no script error, no console error, nothing blocked by the CSP.
 * Screenshots of the front page and of a host page go to
 * $LAVA_SCREENSHOTS_DIR (default: a temp dir), and are checked to be
 * real images. The deeper checks (follower, 10,000 hosts): scripts/check-dashboard.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Browser, findChromium, Page } from "../helpers/browser.ts";
import { TestMaster, spawnLava, startAgent, tempDir, writeProcFixture, type Proc } from "../helpers/cluster.ts";
import { waitFor } from "../helpers/wait.ts";
import { teardown } from "../helpers/teardown.ts";

const chromium = findChromium();
if (!chromium) {
  console.error("\n!!!! SKIPPED: the dashboard browser test needs Chromium (Debian: apt-get install -y chromium; .ci/run installs it) !!!!\n");
}
const SHOTS = process.env.LAVA_SCREENSHOTS_DIR ?? join(tmpdir(), "lava-dashboard-screens");

/** A PNG's width and height from its IHDR chunk. */
function pngSize(file: string): { w: number; h: number; bytes: number } {
  const b = readFileSync(file);
  expect(b.subarray(1, 4).toString()).toBe("PNG");
  return { w: b.readUInt32BE(16), h: b.readUInt32BE(20), bytes: b.length };
}

describe.skipIf(!chromium)("the dashboard in Chromium", () => {
  let m: TestMaster;
  let browser: Browser;
  const procs: Proc[] = [];
  const fixtures = tempDir("lava-dash-proc-");
  let readToken = "";

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    m = await TestMaster.start({ config: "master:\n  reportInterval: 1\n" });
    const n1 = writeProcFixture(join(fixtures, "n1"), { load: [0.5, 0.25, 0.125] });
    procs.push(startAgent(m, { hostname: "n1", procRoot: n1 }));
    // This machine's own /proc for n2: real filesystems, network and processes in its telemetry.
    procs.push(spawnLava(["agent", "--state-dir", tempDir("lava-agent-n2-"), "--master", m.addr, "--hostname", "n2", "--interval", "1", "--log-level", "debug"], { LAVA_TOKEN: m.adminToken, LAVA_TELEMETRY_INTERVAL: "1", LAVA_RECONNECT_MIN: "0.2", LAVA_RECONNECT_MAX: "1" }));
    const r = await m.api<{ token: string }>("/api/v1/tokens", { method: "POST", body: JSON.stringify({ role: "read", subject: "browser-test" }) });
    readToken = r.body.token;
    await waitFor(async () => (await m.api(`/api/v1/hosts/n2/telemetry`)).status === 200, 15_000, "n2's telemetry");
    browser = await Browser.start(chromium!);
  }, 40_000);

  afterAll(() => teardown({ clients: [browser, ...procs], masters: [m], work: fixtures }));

  test("front page (hosts, heatmap), a host page (history charts, telemetry) and a job page, without a script or console error", async () => {
    const page = new Page(browser.page);
    await page.open(`${m.url}/`);
    await page.until<boolean>(`!document.getElementById("login").hidden`, "the sign-in form");
    await page.signIn(readToken);
    await page.until<boolean>(`document.querySelectorAll("#hosts-body tr[data-host]").length === 2`, "two host rows");
    await page.until<boolean>(`Number(document.getElementById("heatmap").dataset.cells) > 0 && Number(document.getElementById("heatmap").dataset.rows) === 2`, "the heatmap with both hosts");
    const front = join(SHOTS, "front.png");
    await page.screenshot(front);
    const fs = pngSize(front);
    expect(fs.w).toBeGreaterThan(800);
    expect(fs.bytes).toBeGreaterThan(20_000);

    // A host page, reached by clicking the host's name as a person would.
    await page.eval(`document.querySelector('#hosts-body tr[data-host="n2"] a').click()`);
    await page.until<boolean>(`!document.getElementById("host-view").hidden && location.hash === "#/host/n2"`, "the host page");
    await page.until<boolean>(`document.querySelectorAll("#host-charts .uplot").length >= 5`, "uPlot charts on the host page");
    await page.until<boolean>(`Number(document.querySelector('#host-charts [data-chart="Load"]').dataset.points) > 0 && Number(document.querySelector('#host-charts [data-chart="Network"]')?.dataset.points ?? 0) > 0`, "load and network history drawn");
    const tel = await page.text("#host-telemetry");
    expect(tel).toContain("Filesystems");
    expect(tel).toContain("Top processes by CPU");
    expect(await page.text("#host-facts")).toContain("cpus");
    // The ranges ask the API for the longer spans (tiers 1d and 1mo) and redraw.
    for (const r of ["24h", "30d", "1h"]) {
      await page.eval(`document.querySelector('[data-range="${r}"]').click()`);
      await page.until<boolean>(`document.querySelector('[data-range="${r}"]').getAttribute("aria-pressed") === "true" && Number(document.querySelector('#host-charts [data-chart="Load"]').dataset.points) > 0`, `the ${r} range`);
    }
    const host = join(SHOTS, "host.png");
    await page.screenshot(host);
    expect(pngSize(host).bytes).toBeGreaterThan(20_000);

    // A job page: facts, history, output.
    // Submitted under the reader's subject: a job's output is shown to admins and to the subject that submitted it.
    const submitter = (await m.api<{ token: string }>("/api/v1/tokens", { method: "POST", body: JSON.stringify({ role: "admin", subject: "browser-test" }) })).body.token;
    const job = await m.api<{ id: number }>("/api/v1/jobs", { method: "POST", body: JSON.stringify({ argv: ["/bin/echo", "hello from the job page"] }), token: submitter });
    expect(job.status).toBe(201);
    await waitFor(async () => (await m.api<{ state: string }>(`/api/v1/jobs/${job.body.id}`)).body.state === "DONE", 15_000, "the job to finish");
    await page.eval(`location.hash = "#/job/${job.body.id}"`);
    await page.until<boolean>(`!document.getElementById("job-view").hidden && document.getElementById("job-stdout").textContent.includes("hello from the job page")`, "the job page with its output");
    expect(await page.text("#job-history")).toContain("DONE");

    await page.eval(`location.hash = ""`);
    await page.until<boolean>(`!document.getElementById("main").hidden`, "back on the front page");
    expect(await page.eval<string[]>("window.__csp")).toEqual([]);
    expect(page.problems).toEqual([]);
    console.log(`# screenshots: ${front} (${fs.w}×${fs.h}), ${host}`);
  }, 60_000);
});
