/**
 * The TLS options of each role (design §7), read once from the PEM files
 * its section names: `master.tls` becomes Bun.serve's `tls` and how the
 * master calls its peers; `agent.tls` / `ctl.tls` become the `tls` option
 * of fetch() and new WebSocket() (Bun takes the same object for both:
 * `{ ca }` trusts that CA bundle instead of the system store,
 * `{ rejectUnauthorized: false }` accepts any certificate, `{ cert, key }`
 * presents a client certificate). With master.tls.requireClientCert the
 * master's port takes only clients with a certificate from master.tls.ca
 * (mutual TLS): the other masters (which present their own master.tls
 * cert), agents and ctl (agent.tls.cert, ctl.tls.cert). Every file
 * problem is a ConfigError (exit 2) naming the key and the file.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Scheme } from "../control/address.ts";
import { logger } from "../log/index.ts";
import { ConfigError } from "./load.ts";
import type { ClientTlsConfig, MasterTlsConfig } from "./schema.ts";

/** The `tls` option of fetch() and new WebSocket(); undefined = verify against the system store. */
export interface ClientTls {
  ca?: string;
  rejectUnauthorized?: boolean;
  /** A client certificate and its key (mutual TLS: master.tls.requireClientCert). */
  cert?: string;
  key?: string;
}

/** How a master calls the other masters (Raft, forwarded writes, the proxied API): the scheme follows its own master.tls. */
export interface PeerLink {
  scheme: Scheme;
  tls: ClientTls | undefined;
}

export const PLAIN_PEERS: PeerLink = { scheme: "http", tls: undefined };

export interface MasterTls {
  /** Bun.serve's `tls` (with requestCert: every client must present a certificate `ca` signed). */
  server: { cert: string; key: string; ca?: string; requestCert?: boolean };
  peers: PeerLink;
}

/** extendedKeyUsage OID of TLS client authentication. */
const CLIENT_AUTH_OID = "1.3.6.1.5.5.7.3.2";

function readPem(key: string, path: string, fix: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new ConfigError(`${key}: cannot read ${path} (${err.code ?? err.message}); ${fix}`);
  }
}

/** A CA bundle: readable, and its first certificate parses (Bun trusts every certificate in it). */
function readCa(key: string, path: string): string {
  const text = readPem(key, path, "point it at a PEM file with the CA certificate(s) that signed the masters' certificates");
  try {
    new X509Certificate(text);
  } catch (e) {
    throw new ConfigError(`${key}: ${path} is not a PEM certificate (${(e as Error).message}); it must hold the CA certificate(s), each "-----BEGIN CERTIFICATE-----"`);
  }
  return text;
}

/**
 * master.tls → what Bun.serve and the peer clients take; null without it.
 * The certificate and key are checked here, so that a wrong file stops
 * start-up naming it instead of failing inside Bun.serve.
 */
export function masterTls(tls: (Omit<MasterTlsConfig, "requireClientCert"> & { requireClientCert?: boolean }) | undefined, nowMs = Date.now()): MasterTls | null {
  if (!tls) return null;
  const cert = readPem("master.tls.cert", tls.cert, "point it at the master's PEM certificate (chain)");
  const key = readPem("master.tls.key", tls.key, "point it at the PEM private key of master.tls.cert");
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (e) {
    throw new ConfigError(`master.tls.cert: ${tls.cert} is not a PEM certificate (${(e as Error).message}); it must start with "-----BEGIN CERTIFICATE-----"`);
  }
  let pk: KeyObject;
  try {
    pk = createPrivateKey(key);
  } catch (e) {
    throw new ConfigError(`master.tls.key: ${tls.key} is not an unencrypted PEM private key (${(e as Error).message}); give the key file of master.tls.cert`);
  }
  if (!x509.checkPrivateKey(pk)) {
    throw new ConfigError(`master.tls.key: ${tls.key} is not the private key of the certificate in master.tls.cert (${tls.cert}); give the key the certificate was issued for`);
  }
  // Not fatal: the operator may be about to replace it, and peers refusing it say so in their logs.
  if (x509.validToDate.getTime() < nowMs) logger("master").warn(`master.tls.cert: ${tls.cert} expired on ${x509.validTo}; clients and the other masters will refuse it`);
  else if (x509.validFromDate.getTime() > nowMs) logger("master").warn(`master.tls.cert: ${tls.cert} is not valid before ${x509.validFrom}; clients and the other masters will refuse it until then`);
  const ca = tls.ca ? readCa("master.tls.ca", tls.ca) : undefined;
  if (tls.requireClientCert) {
    if (!ca) throw new ConfigError("master.tls.requireClientCert needs master.tls.ca: the CA whose certificates the masters, agents and ctl present; set it to that CA's PEM file");
    // An extendedKeyUsage that does not list clientAuth forbids presenting the certificate as a client's.
    const usage = x509.keyUsage;
    if (usage && usage.length > 0 && !usage.includes(CLIENT_AUTH_OID)) {
      throw new ConfigError(`master.tls.cert: ${tls.cert} may not be used as a client certificate (its extendedKeyUsage lacks clientAuth), and with requireClientCert the masters present it to each other; reissue it with extendedKeyUsage = serverAuth, clientAuth`);
    }
  }
  // Masters present their certificate to each other: required by a peer with requireClientCert, ignored otherwise.
  const peerTls: ClientTls | undefined = ca ? { ca, cert, key } : tls.requireClientCert ? { cert, key } : undefined;
  return { server: { cert, key, ...(tls.requireClientCert ? { ca, requestCert: true } : {}) }, peers: { scheme: "https", tls: peerTls } };
}

/** master.tls → how this master calls its peers. */
export const peerLink = (tls: MasterTls | null): PeerLink => tls?.peers ?? PLAIN_PEERS;

/** agent.tls / ctl.tls → the `tls` option of this role's fetch() and WebSocket calls. */
export function clientTls(role: "agent" | "ctl", tls: ClientTlsConfig | undefined): ClientTls | undefined {
  if (!tls) return undefined;
  const mine = clientCert(role, tls);
  if (tls.insecureSkipVerify) {
    logger(role).warn(
      `${role}.tls.insecureSkipVerify is on: any certificate is accepted${tls.ca ? ` (${role}.tls.ca is ignored)` : ""}, so anyone on the path can read and change the traffic, tokens included. For labs only: set ${role}.tls.ca instead.`,
    );
    return { rejectUnauthorized: false, ...mine };
  }
  const out: ClientTls = { ...(tls.ca ? { ca: readCa(`${role}.tls.ca`, tls.ca) } : {}), ...mine };
  return Object.keys(out).length > 0 ? out : undefined;
}

/** `<role>.tls.cert` and `.key`: a client certificate for masters that require one (both or neither, and they must match). */
function clientCert(role: "agent" | "ctl", tls: ClientTlsConfig): { cert: string; key: string } | Record<string, never> {
  if (!tls.cert && !tls.key) return {};
  if (!tls.cert || !tls.key) throw new ConfigError(`${role}.tls.cert and ${role}.tls.key go together: give both (a client certificate signed by the masters' master.tls.ca, and its key) or neither`);
  const cert = readPem(`${role}.tls.cert`, tls.cert, "point it at the PEM client certificate");
  const key = readPem(`${role}.tls.key`, tls.key, `point it at the PEM private key of ${role}.tls.cert`);
  let ok: boolean;
  try {
    ok = new X509Certificate(cert).checkPrivateKey(createPrivateKey(key));
  } catch (e) {
    throw new ConfigError(`${role}.tls.cert / ${role}.tls.key: ${(e as Error).message}; give a PEM certificate and its unencrypted PEM key`);
  }
  if (!ok) throw new ConfigError(`${role}.tls.key: ${tls.key} is not the private key of ${role}.tls.cert (${tls.cert})`);
  return { cert, key };
}

/**
 * What to do about a connection failure that looks like TLS (a fetch error
 * code or message, a WebSocket error text), for the line the user reads;
 * null when it does not. `scheme` is what the client used; `caKey` the
 * setting that names the CA ("ctl.tls.ca").
 */
export function tlsAdvice(scheme: Scheme, failure: string, caKey: string): string | null {
  if (scheme === "http") {
    // A TLS port closes a plain-text request without a word; so does a master going away, hence "if".
    return /ECONNRESET|ConnectionClosed|connection (closed|ended)/i.test(failure) ? "if that master serves TLS (master.tls), write the address as https://HOST:PORT" : null;
  }
  if (/ALTNAME|does not match certificate|Hostname\/IP/i.test(failure)) {
    return "the master's certificate does not name this address: use a name or IP in its subjectAltName, or reissue it with this one";
  }
  if (/EXPIRED|not yet valid/i.test(failure)) return "the master's certificate is out of its validity period: renew it";
  if (/certificate|CERT|self.signed|verify|issuer/i.test(failure)) {
    return `the master's certificate is not trusted: set ${caKey} to the PEM file of the CA that signed it`;
  }
  if (/EPROTO|WRONG_VERSION_NUMBER|speak TLS/i.test(failure)) return "that port does not speak TLS: write http://HOST:PORT for a master without master.tls";
  return null;
}

/** A failed request's error as one line: its message, then tlsAdvice when that applies. */
export function explainFailure(e: unknown, scheme: Scheme, caKey: string): string {
  const err = e as { code?: unknown; message?: unknown } | null;
  const message = typeof err?.message === "string" ? err.message : String(e);
  const advice = tlsAdvice(scheme, `${typeof err?.code === "string" ? err.code : ""} ${message}`, caKey);
  return advice ? `${message} (${advice})` : message;
}
