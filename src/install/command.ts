/**
 * `lava install master|agent` and `lava uninstall master|agent`: the edge
 * that carries out plan.ts. Nothing is started: install prints the
 * `systemctl enable --now` line to run. `--root DIR` writes under DIR (an
 * image being built, a test); `--dry-run` prints every directory and file
 * it would write, and writes nothing.
 */
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { defineCommand } from "citty";
import { LavaError } from "../errors.ts";
import { meta } from "../cli/meta.ts";
import { DEFAULTS, installPlan, ROLES, STATE_DIR, unitName, unitPath, type InstallOptions, type Planned, type Role } from "./plan.ts";

const common = {
  role: { type: "positional", required: true, description: "master or agent" },
  root: { type: "string", description: "Write under this directory instead of / (building an image, a test); no users are created and no systemctl is run", valueHint: "DIR" },
  "dry-run": { type: "boolean", description: "Print every directory and file it would write (with their content) and change nothing" },
} as const;

function roleOf(word: unknown): Role {
  const r = String(word);
  if (!(ROLES as readonly string[]).includes(r)) throw new LavaError(`the role is master or agent, got "${r}"`, "usage");
  return r as Role;
}

function rootOf(root: string | undefined): string {
  if (root === undefined || root === "/") return "/";
  if (!isAbsolute(root)) throw new LavaError(`--root must be an absolute path, got "${root}"`, "usage");
  return root;
}

const under = (root: string, path: string) => (root === "/" ? path : join(root, path));
const octal = (mode: number) => `0${mode.toString(8)}`;

/** uid and gid of a user from /etc/passwd under root, or null. */
function lookupUser(root: string, user: string): { uid: number; gid: number } | null {
  try {
    const text = readFileSync(under(root, "/etc/passwd"), "utf8");
    for (const line of text.split("\n")) {
      const f = line.split(":");
      if (f[0] === user && f.length >= 4) return { uid: Number(f[2]), gid: Number(f[3]) };
    }
  } catch {
    // no passwd file under this root
  }
  return null;
}

function gidOf(root: string, group: string): number | null {
  try {
    const text = readFileSync(under(root, "/etc/group"), "utf8");
    for (const line of text.split("\n")) {
      const f = line.split(":");
      if (f[0] === group && f.length >= 3) return Number(f[2]);
    }
  } catch {
    // no group file under this root
  }
  return null;
}

/** A system user for the master (useradd --system), when installing on / as root and it does not exist yet. */
function ensureUser(user: string, say: (s: string) => void): void {
  if (lookupUser("/", user)) return;
  const r = Bun.spawnSync(["useradd", "--system", "--home-dir", STATE_DIR.master.path, "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group", user], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new LavaError(`cannot create the system user ${user}: ${r.stderr.toString().trim() || `useradd exited ${r.exitCode}`}. Create it yourself (useradd --system ${user}) or choose another with --user.`);
  say(`created system user ${user}`);
}

/**
 * Creates the parents of `path` that are missing as 0755 whatever the
 * umask (root's may be 077: /etc/lava must stay traversable by the master's
 * user).
 */
function makeParents(path: string): void {
  const missing: string[] = [];
  for (let d = dirname(path); !existsSync(d); d = dirname(d)) missing.unshift(d);
  for (const d of missing) {
    mkdirSync(d);
    chmodSync(d, 0o755);
  }
}

function apply(root: string, plan: Planned[], say: (s: string) => void): void {
  for (const p of plan) {
    const path = under(root, p.path);
    const user = p.owner ? lookupUser(root, p.owner) : null;
    if (p.owner && !user) say(`note: no user ${p.owner} under ${root}: ${p.path} stays owned by root`);
    if (p.kind === "dir") {
      // Parents get the usual 0755; only the directory itself gets the plan's mode.
      makeParents(path);
      if (!existsSync(path)) mkdirSync(path);
      chmodSync(path, p.mode);
      if (user) chownSync(path, user.uid, user.gid);
      say(`directory ${p.path} (${octal(p.mode)}${p.owner ? `, ${p.owner}` : ""})`);
      continue;
    }
    const gid = p.group ? gidOf(root, p.group) : null;
    makeParents(path);
    if (p.keepExisting && existsSync(path)) {
      // Never overwrite an operator's config: add the role's section if it has none, let the master's user read it.
      const text = readFileSync(path, "utf8");
      const added = p.section !== null && !new RegExp(`^${p.section.key}:`, "m").test(text);
      if (added) writeFileSync(path, `${text}${text.endsWith("\n") || text === "" ? "" : "\n"}${p.section!.text}`);
      if (gid !== null) {
        chownSync(path, statSync(path).uid, gid);
        chmodSync(path, statSync(path).mode | 0o040);
      }
      say(`kept ${p.path}${added ? `, added its ${p.section!.key}: section` : " as it is"}${gid !== null ? ` (readable by group ${p.group})` : ""}`);
      continue;
    }
    writeFileSync(path, p.content, { mode: p.mode });
    chmodSync(path, p.mode);
    if (gid !== null) chownSync(path, 0, gid);
    say(`wrote ${p.path} (${octal(p.mode)})`);
  }
}

function dryRun(plan: Planned[], root: string): string {
  const out: string[] = [`# lava install --dry-run: nothing is written${root === "/" ? "" : ` (root ${root})`}`];
  for (const p of plan) {
    if (p.kind === "dir") out.push(`# directory ${p.path} mode ${octal(p.mode)} owner ${p.owner ?? "root"}`);
    else out.push(`# file ${p.path} mode ${octal(p.mode)} owner root${p.group ? ` group ${p.group}` : ""}${p.keepExisting ? " (kept if it exists)" : ""}`, p.content.trimEnd(), "");
  }
  return out.join("\n");
}

/** The running executable when it is the compiled lava, else the usual place. */
function defaultBin(): string {
  const exe = process.execPath;
  return /(^|\/)bun(\.exe)?$/.test(exe) ? DEFAULTS.bin : realpathSync(exe);
}

export const install = defineCommand({
  meta: meta({
    name: "install",
    description: "Install lava as a systemd service: a hardened unit, a config skeleton (never overwritten) and the state directory; prints the systemctl line to start it",
    examples: ["lava install master --dry-run", "lava install agent --master m1:6880,m2:6880", "lava install master --hosts 20000 --root /srv/image"],
  }),
  args: {
    ...common,
    config: { type: "string", description: `Config file the service reads (default ${DEFAULTS.configFile})`, valueHint: "FILE" },
    user: { type: "string", description: `The master's service user, created if missing (default ${DEFAULTS.user}); the agent runs as root`, valueHint: "USER" },
    bin: { type: "string", description: "Executable the unit starts (default: this lava)", valueHint: "FILE" },
    hosts: { type: "string", description: `Hosts the master will serve, to size LimitNOFILE (default ${DEFAULTS.hosts})`, valueHint: "N" },
    master: { type: "string", description: `An agent's masters, written into its config (default ${DEFAULTS.master})`, valueHint: "ADDRS" },
  },
  async run({ args }) {
    const role = roleOf(args.role);
    const root = rootOf(args.root);
    const hosts = args.hosts === undefined ? DEFAULTS.hosts : Number(args.hosts);
    if (!(Number.isInteger(hosts) && hosts >= 1 && hosts <= 1_000_000)) throw new LavaError(`--hosts must be a whole number from 1 to 1000000, got "${args.hosts}"`, "usage");
    const o: InstallOptions = {
      role,
      bin: args.bin ?? defaultBin(),
      configFile: args.config ?? DEFAULTS.configFile,
      user: args.user ?? DEFAULTS.user,
      hosts,
      master: args.master ?? DEFAULTS.master,
    };
    for (const [flag, v] of [["--bin", o.bin], ["--config", o.configFile]] as const) {
      if (!isAbsolute(v)) throw new LavaError(`${flag} must be an absolute path (the unit runs from /), got "${v}"`, "usage");
    }
    if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(o.user)) throw new LavaError(`--user must be a user name (lower case, digits, _ -), got "${o.user}"`, "usage");
    const plan = installPlan(o);
    if (args["dry-run"]) {
      console.log(dryRun(plan, root));
      return;
    }
    if (root === "/" && process.getuid?.() !== 0) throw new LavaError("lava install writes to /etc and /var/lib: run it as root (or use --root DIR, or --dry-run to see what it would write)");
    const say = (s: string) => console.log(s);
    if (role === "master" && root === "/") ensureUser(o.user, say);
    apply(root, plan, say);
    if (/^\/(home|root)\//.test(o.bin)) say(`warning: ${o.bin} is under a home directory, which the master's unit hides (ProtectHome): copy lava to ${DEFAULTS.bin} and run lava install again`);
    if (role === "agent") say(`next: put the agent token in ${o.configFile} (agent.token), then`);
    console.log(`systemctl daemon-reload && systemctl enable --now ${unitName(role)}`);
  },
});

export const uninstall = defineCommand({
  meta: meta({
    name: "uninstall",
    description: "Remove what lava install wrote: stops and disables the service, removes its unit; the config and the state directory stay unless --purge",
    examples: ["lava uninstall agent", "lava uninstall master --dry-run", "lava uninstall agent --purge"],
  }),
  args: {
    ...common,
    purge: { type: "boolean", description: "Also remove the state directory (a master's database and secret: back them up first) and the config file" },
    config: { type: "string", description: `Config file to remove with --purge (default ${DEFAULTS.configFile})`, valueHint: "FILE" },
  },
  async run({ args }) {
    const role = roleOf(args.role);
    const root = rootOf(args.root);
    const unit = unitPath(role);
    const state = STATE_DIR[role].path;
    const config = args.config ?? DEFAULTS.configFile;
    const remove = [unit, ...(args.purge ? [state, config] : [])];
    const systemctl = root === "/" && Bun.which("systemctl") !== null;
    if (args["dry-run"]) {
      if (systemctl) console.log(`# would run: systemctl disable --now ${unitName(role)}`);
      for (const p of remove) console.log(`# would remove ${p}`);
      if (!args.purge) console.log(`# would keep ${state} and ${config} (--purge removes them)`);
      return;
    }
    if (root === "/" && process.getuid?.() !== 0) throw new LavaError("lava uninstall changes /etc and /var/lib: run it as root (or --dry-run)");
    if (systemctl) {
      const r = Bun.spawnSync(["systemctl", "disable", "--now", unitName(role)], { stdout: "inherit", stderr: "inherit" });
      if (r.exitCode !== 0) console.log(`note: systemctl disable --now ${unitName(role)} exited ${r.exitCode} (not installed or not running?)`);
    }
    for (const p of remove) {
      if (!existsSync(under(root, p))) continue;
      rmSync(under(root, p), { recursive: true, force: true });
      console.log(`removed ${p}`);
    }
    if (!args.purge) console.log(`kept ${state} (${role === "master" ? "the cluster's database and secret" : "the host key and job records"}) and ${config}; --purge removes them`);
    if (systemctl) Bun.spawnSync(["systemctl", "daemon-reload"]);
    else console.log("systemctl daemon-reload");
  },
});
