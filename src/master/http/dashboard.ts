/**
 * The dashboard at `/` (design §10; docs/api.md "Dashboard"): one static
 * page embedded in the binary, with its CSS and script inline. It reads the
 * API with the token the user types in, so the route itself needs none; on
 * a follower it is served locally and its /api/v1 calls are proxied to the
 * leader like any other.
 */
import pageText from "./dashboard/index.html" with { type: "text" };
// uPlot (MIT, github.com/leeoniya/uPlot): the charts of the host page, embedded whole so the page needs nothing from outside.
import uplotJs from "uplot/dist/uPlot.iife.min.js" with { type: "text" };
import uplotCss from "uplot/dist/uPlot.min.css" with { type: "text" };
import type { Router } from "./router.ts";

/**
 * The page as served: index.html with uPlot's script and stylesheet put in
 * its one <script> and one <style> (placeholders `/*!uplot-js*\/` and
 * `/*!uplot-css*\/`), so the CSP's two hashes still cover everything.
 */
export function composePage(html: string = pageText as unknown as string): string {
  const js = String(uplotJs);
  const css = String(uplotCss);
  // Neither may end the block it is put in.
  if (/<\/script/i.test(js) || /<\/style/i.test(css)) throw new Error("dashboard: uPlot's text would end its <script> or <style> early");
  if (!html.includes("/*!uplot-js*/") || !html.includes("/*!uplot-css*/")) throw new Error("dashboard: the page lacks the uPlot placeholders");
  return html.replace("/*!uplot-css*/", () => css).replace("/*!uplot-js*/", () => js);
}

/** What `GET /` answers with: the page and the headers computed from it once. */
export interface DashboardPage {
  html: string;
  headers: Record<string, string>;
  etag: string;
}

const hashOf = (text: string) => `'sha256-${new Bun.CryptoHasher("sha256").update(text).digest("base64")}'`;

/** The text of every `<tag>…</tag>` block (attribute-less tags only: the page has no others). */
export function inlineBlocks(html: string, tag: "script" | "style"): string[] {
  return [...html.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, "g"))].map((m) => m[1]!);
}

/**
 * The page's headers. The CSP allows exactly the inline script and style
 * of this build by their hashes (no 'unsafe-inline'), requests to this
 * origin only, and no framing, plugins, base or form targets: the token
 * form is handled by the script and can never be submitted into a URL.
 */
export function dashboardPage(html: string): DashboardPage {
  const scripts = inlineBlocks(html, "script");
  const styles = inlineBlocks(html, "style");
  // A programmer error: an edit that adds a <script src> or an attribute would leave code the CSP blocks.
  if (scripts.length !== 1 || styles.length !== 1 || (html.match(/<script\b/g) ?? []).length !== 1 || (html.match(/<style\b/g) ?? []).length !== 1) {
    throw new Error(`dashboard: the page must have exactly one <script> and one <style> without attributes (found ${scripts.length} and ${styles.length})`);
  }
  const csp = [
    "default-src 'self'",
    `script-src ${scripts.map(hashOf).join(" ")}`,
    `style-src ${styles.map(hashOf).join(" ")}`,
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
  const etag = `"${new Bun.CryptoHasher("sha256").update(html).digest("hex").slice(0, 32)}"`;
  return {
    html,
    etag,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": csp,
      "x-frame-options": "DENY",
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      // The page changes only with the binary: revalidate every time, answered by a 304 while the ETag holds.
      "cache-control": "no-cache",
      etag,
    },
  };
}

/** If-None-Match: a list of tags, weak ones (W/) included, or `*`. */
function matchesEtag(header: string | null, etag: string): boolean {
  if (!header) return false;
  return header.split(",").some((t) => {
    const tag = t.trim();
    return tag === "*" || tag === etag || tag === `W/${etag}`;
  });
}

/** `GET /` and `HEAD /`: no token (the page holds no data; its API calls need one). */
export function dashboardRoutes(r: Router, html: string = composePage()): void {
  // bun-types declares *.html as an HTMLBundle; imported `with { type: "text" }` it is the file's text.
  if (typeof html !== "string") throw new Error("dashboard: the page was not embedded as text");
  const page = dashboardPage(html);
  const body = new TextEncoder().encode(page.html);
  r.on("GET", "/", (req) => {
    if (matchesEtag(req.headers.get("if-none-match"), page.etag)) return new Response(null, { status: 304, headers: { etag: page.etag, "cache-control": page.headers["cache-control"]! } });
    if (req.method === "HEAD") return new Response(null, { headers: { ...page.headers, "content-length": String(body.byteLength) } });
    return new Response(body, { headers: page.headers });
  });
}
