/**
 * A throwaway certificate authority for TLS tests, made with the openssl
 * command line (Node's crypto parses X.509 but cannot sign it): a CA, and
 * server certificates it signs for the names a test asks for.
 */
import { join } from "node:path";
import { writeFileSync } from "node:fs";

export interface Issued {
  cert: string;
  key: string;
}

export interface TestCa {
  dir: string;
  /** The CA certificate (what clients trust). */
  ca: string;
  caKey: string;
  /** A server certificate for 127.0.0.1 and localhost, signed by the CA. */
  server: Issued;
  /** Another certificate signed by the CA, for `subjectAltName` entries of the caller's choice (extendedKeyUsage serverAuth unless `usage` says). */
  issue(name: string, sans: string[], usage?: ("serverAuth" | "clientAuth")[]): Issued;
}

function openssl(args: string[], cwd: string): void {
  let r;
  try {
    r = Bun.spawnSync(["openssl", ...args], { cwd, stdout: "pipe", stderr: "pipe" });
  } catch (e) {
    throw new Error(`the TLS tests need the openssl command to make certificates: ${(e as Error).message}`);
  }
  if (r.exitCode !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${r.stderr.toString()}`);
}

/** Makes the CA and the 127.0.0.1/localhost server certificate in `dir`. */
export function makeTestCa(dir: string): TestCa {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=lava test CA"], dir);
  const issue = (name: string, sans: string[], usage: ("serverAuth" | "clientAuth")[] = ["serverAuth"]): Issued => {
    const key = join(dir, `${name}.key`);
    const cert = join(dir, `${name}.pem`);
    writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${sans.join(",")}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=${usage.join(",")}\n`);
    openssl(["req", ...ec, "-keyout", key, "-out", `${name}.csr`, "-subj", `/CN=${name}`], dir);
    openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", `${name}.ext`], dir);
    return { cert, key };
  };
  return { dir, ca: join(dir, "ca.pem"), caKey: join(dir, "ca.key"), server: issue("server", ["IP:127.0.0.1", "DNS:localhost"]), issue };
}
