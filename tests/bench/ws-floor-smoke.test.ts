/** bench/ws-floor.ts --smoke in CI: each server variant holds its connections and is measured. */
import { expect, test } from "bun:test";
import { failure, runSmoke } from "./run.ts";

test("bench/ws-floor.ts --smoke measures every server variant", async () => {
  const r = await runSmoke("ws-floor.ts", [], 40_000);
  expect(failure(r)).toEqual({ code: 0, tail: "" });
  const res = r.result!;
  expect(res.smoke).toBe(true);
  expect(res.conns).toBe(200);
  expect(res.variants.length).toBe(4);
  // 200 connections are too few for a per-connection figure to mean much; that they were held and measured is what counts here.
  for (const v of res.variants) expect(typeof v.rssBytesPerConn).toBe("number");
}, 50_000);
