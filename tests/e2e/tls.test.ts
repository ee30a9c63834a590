/**
 * TLS end to end (design §7): compiled masters with master.tls serve HTTPS
 * and WSS and talk to each other over https; agents (agent.tls.ca) and ctl
 * (ctl.tls.ca) verify them against a throwaway CA made with openssl. Plain
 * text to a TLS port, and TLS without the CA, fail with a line that says
 * what to do; bad certificate files stop start-up with exit 2.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runLava } from "../helpers/binary.ts";
import { startAgent, tempDir, TestMaster, writeProcFixture, type Proc } from "../helpers/cluster.ts";
import { TestCluster } from "../helpers/masters.ts";
import { makeTestCa } from "../helpers/tls.ts";
import { waitFor } from "../helpers/wait.ts";

const root = tempDir("lava-tls-");
const pki = makeTestCa(root);
const tlsYaml = `  tls:\n    cert: ${pki.server.cert}\n    key: ${pki.server.key}\n    ca: ${pki.ca}\n`;
const agents: Proc[] = [];
const clusters: TestCluster[] = [];
let master: TestMaster;

function file(name: string, text: string): string {
  const p = join(root, name);
  writeFileSync(p, text);
  return p;
}

const count = (text: string, part: string) => text.split(part).length - 1;

beforeAll(async () => {
  master = await TestMaster.start({ config: `master:\n  reportInterval: 1\n  announceInterval: 0.5\n${tlsYaml}`, tlsCa: pki.ca });
}, 20_000);

afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await master?.stop();
  master?.cleanup();
  for (const c of clusters) {
    await c.stop();
    c.cleanup();
  }
  rmSync(root, { recursive: true, force: true });
});

describe("one master with master.tls", () => {
  test("an agent with agent.tls.ca registers over wss; its load reaches `lava ctl load --json --master https://…` (ctl.tls.ca from LAVA_TLS_CA)", async () => {
    // Logged just after the run file TestMaster waits for.
    await waitFor(() => master.proc.text.includes(`master listening: HTTPS 127.0.0.1:${master.run.httpPort}`), 5_000, "the master's HTTPS line");
    const fixture = writeProcFixture(join(root, "proc"), { load: [0.5, 0.25, 0.125] });
    // --master is a bare host:port: the tls section makes it https (and wss).
    const agent = startAgent(master, { hostname: "tls-a", procRoot: fixture, args: ["--config", file("agent.yaml", `agent:\n  tls:\n    ca: ${pki.ca}\n`)] });
    agents.push(agent);
    const hosts = await waitFor(
      async () => {
        const r = await runLava(["ctl", "load", "--json", "--master", `https://${master.addr}`], { env: { LAVA_TOKEN: master.adminToken, LAVA_TLS_CA: pki.ca } });
        if (r.code !== 0) throw new Error(r.stderr);
        const list = JSON.parse(r.stdout) as { host: string; status: string; load1: number | null }[];
        return list.some((h) => h.host === "tls-a" && h.load1 !== null) ? list : null;
      },
      15_000,
      "the TLS agent's load in ctl load",
      100,
    );
    expect(hosts.find((h) => h.host === "tls-a")).toMatchObject({ status: "ok", load1: 0.5 });
    // check probes each master's /healthz itself, also over https.
    const check = await runLava(["ctl", "check", "--json", "--master", `https://${master.addr}`], { env: { LAVA_TOKEN: master.adminToken, LAVA_TLS_CA: pki.ca } });
    expect(JSON.parse(check.stdout)).toMatchObject({ state: "OK", code: 0 });
    expect(agent.text).toContain(`masters https://${master.addr}`);
    expect(agent.text).toContain(`registered with master ${master.addr} as host tls-a`);
  }, 30_000);

  test("plain http to the TLS port fails clearly: ctl exits 3 saying to write https://, an agent on ws:// says the same and retries", async () => {
    const ctl = await runLava(["ctl", "load", "--master", `http://${master.addr}`, "--timeout", "2"], { env: { LAVA_TOKEN: master.adminToken } });
    expect(ctl.code).toBe(3);
    expect(ctl.stderr).toContain(`no master reachable: tried ${master.addr} (connection closed; if that master serves TLS (master.tls), write the address as https://HOST:PORT)`);
    const agent = startAgent(master, { hostname: "plain-ws", master: `http://${master.addr}` });
    agents.push(agent);
    await waitFor(() => count(agent.text, "cannot register with master") >= 3, 15_000, "three failed attempts of the ws:// agent");
    expect(agent.text).toContain("if that master serves TLS (master.tls), write the address as https://HOST:PORT");
    expect(agent.proc.exitCode).toBeNull();
  }, 30_000);

  test("without the CA: ctl exits 3 naming ctl.tls.ca; an agent logs that agent.tls.ca is needed and keeps retrying", async () => {
    const ctl = await runLava(["ctl", "load", "--master", `https://${master.addr}`, "--timeout", "2"], { env: { LAVA_TOKEN: master.adminToken } });
    expect(ctl.code).toBe(3);
    expect(ctl.stderr).toContain("the master's certificate is not trusted: set ctl.tls.ca (env LAVA_TLS_CA) to the PEM file of the CA that signed it");
    const agent = startAgent(master, { hostname: "no-ca", master: `https://${master.addr}` });
    agents.push(agent);
    await waitFor(() => count(agent.text, "cannot register with master") >= 3, 15_000, "three failed attempts of the agent without the CA");
    // One warning until the agent registers; the retries say it again at debug level.
    const warnings = agent.text.split("\n").filter((l) => l.includes("[warn]") && l.includes("master unreachable"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`${master.addr}: TLS handshake failed: unable to verify the first certificate (the master's certificate is not trusted: set agent.tls.ca (env LAVA_TLS_CA) to the PEM file of the CA that signed it)`);
    expect(agent.proc.exitCode).toBeNull();
    const hosts = (await master.api<{ host: string }[]>("/api/v1/hosts")).body.map((h) => h.host);
    expect(hosts).not.toContain("no-ca");
    expect(hosts).not.toContain("plain-ws");
  }, 30_000);
});

describe("three masters with master.tls", () => {
  test("elect a leader over https and replicate a write into every master's SQLite; a follower proxies the API to the leader and gets its live load over https; ctl cluster reaches each member", async () => {
    const c = await TestCluster.start(3, { config: `master:\n${tlsYaml}`, tlsCa: pki.ca });
    clusters.push(c);
    // The peers' ports speak only TLS: an election at all means Raft went over https.
    const leader = await c.leader(10_000);
    const follower = c.masters.find((m) => m !== leader)!;
    const wrote = await follower.api("/api/v1/tokens", { method: "POST", body: JSON.stringify({ role: "read", subject: "over-tls" }) });
    expect(wrote.status).toBe(201);
    await waitFor(
      () => c.masters.every((m) => c.query<{ subject: string }>(m, "SELECT subject FROM tokens").some((r) => r.subject === "over-tls")),
      10_000,
      "the write on every master",
    );
    const res = await fetch(`${follower.url}/api/v1/tokens`, { headers: { authorization: `Bearer ${leader.adminToken}` }, tls: follower.fetchTls });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-lava-served-by")).toBe(leader.addr);
    await res.arrayBuffer();
    // The leader's live load reaches the follower over https too (MASTER_SYNC): it answers status itself.
    await waitFor(async () => {
      const r = await fetch(`${follower.url}/api/v1/status`, { headers: { authorization: `Bearer ${leader.adminToken}` }, tls: follower.fetchTls });
      await r.arrayBuffer();
      return r.headers.get("x-lava-served-by") === follower.addr && r.headers.get("x-lava-sync-age-ms") !== null;
    }, 5000, "status answered by the follower from the leader's stream over https");
    const out = await runLava(["ctl", "cluster", "--json", "--master", `https://${follower.addr}`], { env: { LAVA_TOKEN: leader.adminToken, LAVA_TLS_CA: pki.ca } });
    expect(out.code).toBe(0);
    const view = JSON.parse(out.stdout) as { leader: { address: string }; members: { role: string; health: string | null }[] };
    expect(view.leader.address).toBe(leader.addr);
    expect(view.members.map((m) => m.role).sort()).toEqual(["follower", "follower", "leader"]);
    expect(view.members.filter((m) => m.health === "healthy")).toHaveLength(2);
  }, 60_000);
});

describe("three masters with mutual TLS (master.tls.requireClientCert)", () => {
  test("peers authenticate each other with client certificates from master.tls.ca; a client without one, or with one from another CA, is refused at the handshake; ctl with ctl.tls.cert gets in", async () => {
    const both = pki.issue("mtls-master", ["IP:127.0.0.1", "DNS:localhost"], ["serverAuth", "clientAuth"]);
    const client = pki.issue("mtls-client", ["DNS:ops.example"], ["clientAuth"]);
    const yaml = `master:\n  tls:\n    cert: ${both.cert}\n    key: ${both.key}\n    ca: ${pki.ca}\n    requireClientCert: true\n`;
    const c = await TestCluster.start(3, { config: yaml, tlsCa: pki.ca });
    clusters.push(c);
    for (const m of c.masters) m.clientCert = client;
    // An election and a replicated write: the masters presented their certificates to each other.
    const leader = await c.leader(10_000);
    const follower = c.masters.find((m) => m !== leader)!;
    const wrote = await follower.api("/api/v1/tokens", { method: "POST", body: JSON.stringify({ role: "read", subject: "over-mtls" }) });
    expect(wrote.status).toBe(201);
    await waitFor(() => c.masters.every((m) => c.query<{ subject: string }>(m, "SELECT subject FROM tokens").some((r) => r.subject === "over-mtls")), 10_000, "the write on every master");

    // A would-be peer with the CA but no client certificate: refused before any HTTP (whatever its x-lava-peer header).
    const ca = readFileSync(pki.ca, "utf8");
    const bare = await fetch(`${follower.url}/_raft/append`, { method: "POST", body: "[]", tls: { ca } }).then(
      (r) => `HTTP ${r.status}`,
      (e: Error) => `refused: ${e.message}`,
    );
    expect(bare).toStartWith("refused");
    // A certificate from another CA: refused too.
    const rogue = makeTestCa(mkdtempSync(join(root, "rogue-")));
    const rogueClient = rogue.issue("rogue", ["DNS:rogue.example"], ["clientAuth"]);
    const foreign = await fetch(`${follower.url}/_raft/health`, { tls: { ca, cert: readFileSync(rogueClient.cert, "utf8"), key: readFileSync(rogueClient.key, "utf8") } }).then(
      (r) => `HTTP ${r.status}`,
      (e: Error) => `refused: ${e.message}`,
    );
    expect(foreign).toStartWith("refused");

    // ctl presents ctl.tls.cert (env LAVA_TLS_CERT / LAVA_TLS_KEY); without it, no master is reachable (exit 3).
    const env = { LAVA_TOKEN: leader.adminToken, LAVA_TLS_CA: pki.ca };
    const ok = await runLava(["ctl", "cluster", "--json", "--master", `https://${follower.addr}`], { env: { ...env, LAVA_TLS_CERT: client.cert, LAVA_TLS_KEY: client.key } });
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    expect((JSON.parse(ok.stdout) as { leader: { address: string } }).leader.address).toBe(leader.addr);
    const without = await runLava(["ctl", "cluster", "--master", `https://${follower.addr}`, "--timeout", "2"], { env });
    expect(without.code).toBe(3);
  }, 60_000);

  test("requireClientCert with a master certificate that may not be a client's (serverAuth only) stops start-up with exit 2 saying what to reissue", async () => {
    const out = await runLava(["master", "--data-dir", join(root, "mtls-bad"), "--bind", "127.0.0.1", "--http-port", "0", "--udp-port", "0", "--config", file("mtls-bad.yaml", `master:\n${tlsYaml}    requireClientCert: true\n`)]);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("extendedKeyUsage = serverAuth, clientAuth");
  }, 30_000);
});

describe("start-up", () => {
  test("a missing, wrong or mismatched file stops master, agent and ctl with exit 2 naming the key and the file", async () => {
    const missing = join(root, "missing.pem");
    const other = pki.issue("other", ["DNS:other.example"]);
    const masterWith = (tls: string) =>
      runLava(["master", "--data-dir", join(root, "bad-master"), "--bind", "127.0.0.1", "--http-port", "0", "--udp-port", "0", "--config", file("bad-master.yaml", `master:\n  tls:\n${tls}`)]);
    const noCert = await masterWith(`    cert: ${missing}\n    key: ${pki.server.key}\n`);
    expect(noCert.code).toBe(2);
    expect(noCert.stderr).toContain(`lava: master.tls.cert: cannot read ${missing} (ENOENT)`);
    const mismatched = await masterWith(`    cert: ${pki.server.cert}\n    key: ${other.key}\n`);
    expect(mismatched.code).toBe(2);
    expect(mismatched.stderr).toContain(`lava: master.tls.key: ${other.key} is not the private key of the certificate in master.tls.cert (${pki.server.cert})`);
    const agent = await runLava(["agent", "--master", "127.0.0.1:1"], { env: { LAVA_TLS_CA: missing } });
    expect(agent.code).toBe(2);
    expect(agent.stderr).toContain(`lava: agent.tls.ca: cannot read ${missing} (ENOENT)`);
    const ctl = await runLava(["ctl", "load", "--master", "127.0.0.1:1"], { env: { LAVA_TLS_CA: pki.server.key } });
    expect(ctl.code).toBe(2);
    expect(ctl.stderr).toContain(`lava: ctl.tls.ca: ${pki.server.key} is not a PEM certificate`);
  }, 30_000);
});
