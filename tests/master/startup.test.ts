/**
 * The master's composition root (src/master/server.ts): a start that fails
 * part-way closes what it had opened, and stop() closes everything, once.
 */
import { expect, test } from "bun:test";
import * as v from "valibot";
import { MasterSchema } from "../../src/config/schema.ts";
import { LavaError } from "../../src/errors.ts";
import { configureLogging } from "../../src/log/index.ts";
import { exitStatusOf } from "../../src/main.ts";
import { EXIT } from "../../src/cli/errors.ts";
import { startMaster } from "../../src/master/server.ts";
import { scratchDirs } from "../helpers/teardown.ts";

configureLogging({ level: "silent", format: "pretty" });

const tempDir = scratchDirs("lava-startup-");
function config(extra: Record<string, unknown>) {
  const dataDir = tempDir();
  return v.parse(MasterSchema, { dataDir, bind: "127.0.0.1", httpPort: 0, udpPort: 0, ...extra });
}

test("an HTTP port in use: a usage error, and the UDP socket and the database opened before it are closed again", async () => {
  const taken = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const probe = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
  const udpPort = probe.port;
  probe.close();
  const cfg = config({ httpPort: taken.port, udpPort });
  try {
    const e = await startMaster(cfg).then(
      () => null,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(LavaError);
    expect((e as LavaError).message).toContain(`cannot listen on HTTP 127.0.0.1:${taken.port}`);
    expect(exitStatusOf(e)).toBe(EXIT.usage);
    // The UDP port it had bound is free again…
    const again = await Bun.udpSocket({ hostname: "127.0.0.1", port: udpPort });
    again.close();
  } finally {
    taken.stop(true);
  }
  // …and the same data dir starts a master at once (its database was closed, not left open).
  const m = await startMaster({ ...cfg, httpPort: 0 });
  await m.stop();
});

test("stop() closes the listeners; a second stop() is harmless", async () => {
  const m = await startMaster(config({}));
  const healthz = await fetch(`http://127.0.0.1:${m.httpPort}/healthz`);
  expect(healthz.status).toBe(200);
  await m.stop();
  await m.stop();
  const refused = await fetch(`http://127.0.0.1:${m.httpPort}/healthz`).then(
    () => "answered",
    () => "refused",
  );
  expect(refused).toBe("refused");
  const udp = await Bun.udpSocket({ hostname: "127.0.0.1", port: m.udpPort });
  udp.close();
});
