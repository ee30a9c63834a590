/**
 * Exactly-once writes (docs/api.md "Retries") on a route that checks state:
 * a retry of an applied cancel, with the same x-lava-request-id, gets the
 * first outcome back instead of a 409 for the job it already ended.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { TestMaster } from "../helpers/cluster.ts";
import { jobClient } from "../helpers/jobs.ts";
import { RawAgent } from "../master/raw-agent.ts";
import { teardown } from "../helpers/teardown.ts";

let master: TestMaster;
let host: RawAgent;
const jc = jobClient(() => master);

beforeAll(async () => {
  master = await TestMaster.start();
  // A registered host, so the job is not refused as one no host could ever take.
  host = await RawAgent.connect(master, "rid-host");
}, 20_000);

afterAll(() => teardown({ clients: [host], masters: [master] }));

test("a cancel retried with its request id answers as the first time, marked replayed; a new id is refused with 409", async () => {
  // Held, so it stays pending without any host.
  const id = await jc.submit(["--hold", "--", "true"]);
  const cancel = (rid: string) => fetch(`${master.url}/api/v1/jobs/${id}/cancel`, { method: "POST", headers: { authorization: `Bearer ${master.adminToken}`, "x-lava-request-id": rid } });
  const first = await cancel("retry-test-0001");
  expect(first.status).toBe(200);
  const body = await first.json();
  expect(first.headers.get("x-lava-request-replayed")).toBeNull();
  const again = await cancel("retry-test-0001");
  expect(again.status).toBe(200);
  expect(await again.json()).toEqual(body);
  expect(again.headers.get("x-lava-request-replayed")).not.toBeNull();
  expect((await cancel("retry-test-0002")).status).toBe(409);
  expect((await jc.job(id)).state).toBe("KILLED");
});
