/**
 * master.tls / agent.tls / ctl.tls: the schema's rules and what the helper
 * makes of the files (config/tls.ts). Every problem is a ConfigError (exit 2)
 * naming the key and the file.
 */
import { exitStatusOf } from "../../src/main.ts";
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clientTls, ConfigError, explainFailure, loadConfig, masterTls, tlsAdvice } from "../../src/config/index.ts";
import { EXIT } from "../../src/cli/errors.ts";
import { makeTestCa } from "../helpers/tls.ts";

const dir = mkdtempSync(join(tmpdir(), "lava-tls-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const pki = makeTestCa(dir);
const other = pki.issue("other", ["DNS:other.example"]);
const missing = join(dir, "missing.pem");
const garbage = join(dir, "garbage.pem");
writeFileSync(garbage, "not a certificate\n");

/** What `fn` throws, which must be a ConfigError. */
function configError(fn: () => unknown): ConfigError {
  const thrown = (() => {
    try {
      fn();
    } catch (e) {
      return e;
    }
  })();
  expect(thrown).toBeInstanceOf(ConfigError);
  return thrown as ConfigError;
}

describe("schema", () => {
  test("master.tls needs cert and key; the message says so and names where the value came from", () => {
    const f = join(dir, "half.yaml");
    writeFileSync(f, `master:\n  tls:\n    cert: ${pki.server.cert}\n`);
    const e = configError(() => loadConfig({ role: "master", configFile: f, env: {} }));
    expect(exitStatusOf(e)).toBe(EXIT.usage);
    expect(e.message).toBe(`${f}: master.tls.key: tls needs both cert and key (paths of the master's PEM certificate and its private key); got undefined`);
    const env = configError(() => loadConfig({ role: "master", env: { LAVA_TLS_KEY: pki.server.key } }));
    expect(env.message).toContain("master.tls.cert: tls needs both cert and key");
  });

  test("a typo inside tls is refused with the allowed keys", () => {
    const f = join(dir, "typo.yaml");
    writeFileSync(f, "agent:\n  tls:\n    cafile: x\n");
    const e = configError(() => loadConfig({ role: "agent", configFile: f, env: {} }));
    expect(e.message).toContain("agent.tls.cafile: unknown key (allowed here: ca, insecureSkipVerify, cert, key)");
  });

  test("env LAVA_TLS_* fill the section of the role started; absent, there is no section", () => {
    expect(loadConfig({ role: "agent", env: {} }).config.tls).toBeUndefined();
    const agent = loadConfig({ role: "agent", env: { LAVA_TLS_CA: pki.ca, LAVA_TLS_INSECURE_SKIP_VERIFY: "no" } }).config.tls;
    expect(agent).toEqual({ ca: pki.ca, insecureSkipVerify: false });
    const master = loadConfig({ role: "master", env: { LAVA_TLS_CERT: pki.server.cert, LAVA_TLS_KEY: pki.server.key } }).config.tls;
    expect(master).toEqual({ cert: pki.server.cert, key: pki.server.key, requireClientCert: false });
    const e = configError(() => loadConfig({ role: "ctl", env: { LAVA_TLS_INSECURE_SKIP_VERIFY: "maybe" } }));
    expect(e.message).toContain("env LAVA_TLS_INSECURE_SKIP_VERIFY: ctl.tls.insecureSkipVerify");
  });
});

describe("masterTls", () => {
  test("none configured: plain http to the peers", () => {
    expect(masterTls(undefined)).toBeNull();
  });

  test("a good pair: the PEM text for Bun.serve; peers over https, with the CA when given, else the system store", () => {
    const t = masterTls({ cert: pki.server.cert, key: pki.server.key, ca: pki.ca })!;
    expect(t.server.cert).toBe(readFileSync(pki.server.cert, "utf8"));
    expect(t.server.key).toBe(readFileSync(pki.server.key, "utf8"));
    // Masters present their own certificate to each other (peers with requireClientCert want it; others ignore it).
    expect(t.peers).toEqual({ scheme: "https", tls: { ca: readFileSync(pki.ca, "utf8"), cert: t.server.cert, key: t.server.key } });
    expect(t.server.requestCert).toBeUndefined();
    expect(masterTls({ cert: pki.server.cert, key: pki.server.key })!.peers).toEqual({ scheme: "https", tls: undefined });
  });

  test("each bad file is named with its key", () => {
    const cases: [Parameters<typeof masterTls>[0], string][] = [
      [{ cert: missing, key: pki.server.key }, `master.tls.cert: cannot read ${missing} (ENOENT)`],
      [{ cert: pki.server.cert, key: missing }, `master.tls.key: cannot read ${missing} (ENOENT)`],
      [{ cert: garbage, key: pki.server.key }, `master.tls.cert: ${garbage} is not a PEM certificate`],
      [{ cert: pki.server.key, key: pki.server.key }, `master.tls.cert: ${pki.server.key} is not a PEM certificate`],
      [{ cert: pki.server.cert, key: pki.server.cert }, `master.tls.key: ${pki.server.cert} is not an unencrypted PEM private key`],
      [{ cert: pki.server.cert, key: other.key }, `master.tls.key: ${other.key} is not the private key of the certificate in master.tls.cert (${pki.server.cert})`],
      [{ cert: pki.server.cert, key: pki.server.key, ca: missing }, `master.tls.ca: cannot read ${missing} (ENOENT)`],
      [{ cert: pki.server.cert, key: pki.server.key, ca: garbage }, `master.tls.ca: ${garbage} is not a PEM certificate`],
    ];
    for (const [tls, message] of cases) {
      const e = configError(() => masterTls(tls));
      expect(exitStatusOf(e)).toBe(EXIT.usage);
      expect(e.message).toStartWith(message);
    }
  });
});

describe("clientTls", () => {
  test("no section or no ca: the system store (undefined); a ca: its PEM text", () => {
    expect(clientTls("agent", undefined)).toBeUndefined();
    expect(clientTls("agent", { insecureSkipVerify: false })).toBeUndefined();
    expect(clientTls("ctl", { ca: pki.ca, insecureSkipVerify: false })).toEqual({ ca: readFileSync(pki.ca, "utf8") });
  });

  test("skip-verify accepts any certificate (and wins over a ca)", () => {
    expect(clientTls("ctl", { ca: pki.ca, insecureSkipVerify: true })).toEqual({ rejectUnauthorized: false });
  });

  test("a bad ca file names the role's key", () => {
    expect(configError(() => clientTls("agent", { ca: missing, insecureSkipVerify: false })).message).toStartWith(`agent.tls.ca: cannot read ${missing} (ENOENT)`);
    expect(configError(() => clientTls("ctl", { ca: garbage, insecureSkipVerify: false })).message).toStartWith(`ctl.tls.ca: ${garbage} is not a PEM certificate`);
  });
});

describe("tlsAdvice", () => {
  const key = "ctl.tls.ca";
  test("the failures Bun reports, by fetch code or WebSocket text", () => {
    expect(tlsAdvice("https", "UNABLE_TO_VERIFY_LEAF_SIGNATURE unable to verify the first certificate", key)).toBe("the master's certificate is not trusted: set ctl.tls.ca to the PEM file of the CA that signed it");
    expect(tlsAdvice("https", "TLS handshake failed: unable to verify the first certificate", key)).toContain("not trusted");
    expect(tlsAdvice("https", "ERR_TLS_CERT_ALTNAME_INVALID fetching", key)).toContain("does not name this address");
    expect(tlsAdvice("https", "TLS handshake failed: Hostname/IP does not match certificate's altnames", key)).toContain("does not name this address");
    expect(tlsAdvice("https", "CERT_HAS_EXPIRED certificate has expired", key)).toContain("renew it");
    expect(tlsAdvice("https", "EPROTO: The TLS handshake failed. Does the server speak TLS on this port?", key)).toContain("write http://");
    expect(tlsAdvice("https", "TLS handshake failed: error:100000f7:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER", key)).toContain("write http://");
    expect(tlsAdvice("http", "ECONNRESET The socket connection was closed unexpectedly", key)).toContain("write the address as https://");
    expect(tlsAdvice("http", "Connection ended", key)).toContain("https://");
  });

  test("failures that are not about TLS get none", () => {
    for (const [scheme, text] of [["https", "ECONNREFUSED connection refused"], ["http", "ECONNREFUSED"], ["http", "unable to verify the first certificate"], ["https", "no answer within 2 s"]] as const) {
      expect(tlsAdvice(scheme, text, key)).toBeNull();
    }
    expect(explainFailure(Object.assign(new Error("boom"), { code: "ECONNREFUSED" }), "https", key)).toBe("boom");
    expect(explainFailure(Object.assign(new Error("unable to verify the first certificate"), { code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" }), "https", key)).toContain("(the master's certificate is not trusted");
  });
});

describe("mutual TLS", () => {
  const both = pki.issue("both", ["IP:127.0.0.1"], ["serverAuth", "clientAuth"]);
  test("master.tls.requireClientCert: Bun.serve requests a certificate from the CA; it needs the CA, and a certificate the masters may present to each other", () => {
    const t = masterTls({ cert: both.cert, key: both.key, ca: pki.ca, requireClientCert: true })!;
    expect(t.server).toMatchObject({ requestCert: true, ca: readFileSync(pki.ca, "utf8") });
    expect(t.peers.tls).toEqual({ ca: readFileSync(pki.ca, "utf8"), cert: readFileSync(both.cert, "utf8"), key: readFileSync(both.key, "utf8") });
    expect(configError(() => masterTls({ cert: both.cert, key: both.key, requireClientCert: true })).message).toContain("master.tls.requireClientCert needs master.tls.ca");
    expect(configError(() => masterTls({ cert: pki.server.cert, key: pki.server.key, ca: pki.ca, requireClientCert: true })).message).toContain("lacks clientAuth");
  });

  test("agent.tls.cert and .key go together and must match; they are presented with the CA", () => {
    const client = pki.issue("client", ["DNS:ops"], ["clientAuth"]);
    expect(clientTls("agent", { ca: pki.ca, cert: client.cert, key: client.key, insecureSkipVerify: false })).toEqual({ ca: readFileSync(pki.ca, "utf8"), cert: readFileSync(client.cert, "utf8"), key: readFileSync(client.key, "utf8") });
    expect(configError(() => clientTls("ctl", { cert: client.cert, insecureSkipVerify: false })).message).toContain("ctl.tls.cert and ctl.tls.key go together");
    expect(configError(() => clientTls("agent", { cert: client.cert, key: both.key, insecureSkipVerify: false })).message).toContain("is not the private key of agent.tls.cert");
  });
});
