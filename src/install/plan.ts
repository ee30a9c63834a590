/**
 * What `lava install master|agent` writes, as data: the systemd unit, the
 * config skeleton and the state directory, each with its mode and owner.
 * Pure: the options come in, a plan goes out; install.ts carries it out (or
 * prints it, with --dry-run). docs/operations.md explains every setting.
 */

export const ROLES = ["master", "agent"] as const;
export type Role = (typeof ROLES)[number];

export interface InstallOptions {
  role: Role;
  /** The executable the unit starts (absolute). */
  bin: string;
  /** The config file the unit passes with --config (absolute, as seen on the installed system). */
  configFile: string;
  /** The master's service user (the agent runs as root: see agentUnit). */
  user: string;
  /** Hosts the master serves, for LimitNOFILE (one WebSocket each). */
  hosts: number;
  /** The agent's masters, written into its config skeleton. */
  master: string;
}

export const DEFAULTS = {
  bin: "/usr/local/bin/lava",
  configFile: "/etc/lava/lava.yaml",
  user: "lava",
  hosts: 10_000,
  master: "127.0.0.1:6880",
} as const;

/** Where each role keeps its state (design §9, §11), and the unit's StateDirectory= name. */
export const STATE_DIR: Record<Role, { path: string; name: string }> = {
  master: { path: "/var/lib/lava", name: "lava" },
  agent: { path: "/var/lib/lava-agent", name: "lava-agent" },
};

export const unitName = (role: Role) => `lava-${role}.service`;
export const unitPath = (role: Role) => `/etc/systemd/system/${unitName(role)}`;

/**
 * Open files for a master serving `hosts` agents: one WebSocket each, plus
 * ctl and peer connections, the database and its WAL, with a quarter to
 * spare; never below 16384, rounded up to a power of two.
 */
export function masterNofile(hosts: number): number {
  const need = Math.ceil(hosts * 1.25) + 1024;
  let n = 16_384;
  while (n < need) n *= 2;
  return n;
}

export interface PlannedDir {
  kind: "dir";
  path: string;
  mode: number;
  /** User (and group of the same name) that owns it; null: root. */
  owner: string | null;
}

export interface PlannedFile {
  kind: "file";
  path: string;
  mode: number;
  owner: string | null;
  /** Group that may read it (the master's user reads the shared config), or null. */
  group: string | null;
  content: string;
  /** Left as it is when it exists (the config: an operator's edits are never overwritten)… */
  keepExisting: boolean;
  /** …except that this top-level section is appended when the file has none (agent: after master:, on one host). */
  section: { key: string; text: string } | null;
}

export type Planned = PlannedDir | PlannedFile;

const q = (s: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `"${s.replace(/(["\\])/g, "\\$1")}"`);

/**
 * The master's unit: an unprivileged user (ports 6879/6880 need no
 * capability), no new privileges, the file system read-only but for its
 * state directory, no home directories, private /tmp and devices, kernel
 * knobs and modules off limits. Not MemoryDenyWriteExecute: the JavaScript
 * JIT writes the code it runs.
 */
export function masterUnit(o: InstallOptions): string {
  return `# lava master (written by \`lava install master\`; docs/operations.md)
[Unit]
Description=lava master: cluster load information, jobs and remote commands
After=network-online.target
Wants=network-online.target

[Service]
Type=exec
ExecStart=${q(o.bin)} master --config ${q(o.configFile)}
User=${o.user}
Group=${o.user}
Restart=on-failure
RestartSec=2s
TimeoutStopSec=30s
# One WebSocket per agent: sized for ${o.hosts} hosts (lava install --hosts N).
LimitNOFILE=${masterNofile(o.hosts)}
# /var/lib/lava: the database, the cluster secret and the admin token, 0700.
StateDirectory=${STATE_DIR.master.name}
StateDirectoryMode=0700
UMask=0077

NoNewPrivileges=yes
CapabilityBoundingSet=
AmbientCapabilities=
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
LockPersonality=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
SystemCallArchitectures=native

[Install]
WantedBy=multi-user.target
`;
}

/**
 * The agent's unit. It runs as root, because it starts each job as the
 * job's own unprivileged user (setuid/setgid, which root may always do:
 * dropping privileges). NoNewPrivileges is not set, because it is
 * inherited by every job: a job that uses sudo, apptainer's setuid starter,
 * fusermount or ping (on hosts where it is setuid) would fail. Neither is
 * ProtectSystem: the agent replaces its own executable on `lava ctl
 * upgrade` and runs the commands an admin allows (agent.exec.allow), which
 * may install packages. Its confinement is the allowlists and the job
 * user, not the unit (docs/operations.md, "The agent's unit").
 * KillMode=mixed: the agent ends its jobs itself on SIGTERM (their own
 * SIGTERM, then SIGKILL after the grace); whatever is left is killed.
 */
export function agentUnit(o: InstallOptions): string {
  return `# lava agent (written by \`lava install agent\`; docs/operations.md)
[Unit]
Description=lava agent: load reports, remote commands and jobs for this host
After=network-online.target
Wants=network-online.target

[Service]
Type=exec
ExecStart=${q(o.bin)} agent --config ${q(o.configFile)}
# root: jobs run as their own users (agent.jobs.user), which takes setuid.
# No NoNewPrivileges and no ProtectSystem: see docs/operations.md.
Restart=on-failure
RestartSec=5s
KillMode=mixed
TimeoutStopSec=60s
# Jobs inherit the limit.
LimitNOFILE=65536
# /var/lib/lava-agent: the host key and the records of running jobs, 0700.
StateDirectory=${STATE_DIR.agent.name}
StateDirectoryMode=0700

[Install]
WantedBy=multi-user.target
`;
}

export function configSkeleton(o: InstallOptions): string {
  return `# lava configuration (docs/configuration.md lists every key).
# Written by \`lava install ${o.role}\`; lava install never overwrites it.
# Precedence: flags > LAVA_* environment > this file > defaults.
${configSection(o)}`;
}

/** The role's part of the skeleton: its section (and ctl: with the master). */
export function configSection(o: InstallOptions): string {
  if (o.role === "master") {
    return `master:
  dataDir: ${STATE_DIR.master.path}
  bind: 0.0.0.0
  udpPort: 6879
  httpPort: 6880
  # advertise: master1.example.org:6880    # the address agents and ctl are sent to
  # With 3 or 5 masters (docs/operations.md): this one's id and the others.
  # nodeId: 1
  # raftPeers: ["2=master2:6880", "3=master3:6880"]
  # secretFile: /etc/lava/secret           # the same secret on every master
ctl:
  master: 127.0.0.1:6880
`;
  }
  return `agent:
  master: ${o.master}
  stateDir: ${STATE_DIR.agent.path}
  # The agent token (lava ctl token create --role agent). This file is then a
  # secret: keep it mode 0600 (or 0640 root:${o.user} where a master reads it too).
  # token: ...
  exec:
    allow: []          # commands lava ctl exec may run here, e.g. [/usr/bin/uptime]
  logs:
    allow: []          # files lava ctl logs may read, e.g. [/var/log/syslog]
`;
}

/** Directories, then files, in the order they are made. */
export function installPlan(o: InstallOptions): Planned[] {
  const state = STATE_DIR[o.role];
  const configDir = o.configFile.slice(0, o.configFile.lastIndexOf("/")) || "/";
  return [
    { kind: "dir", path: configDir, mode: 0o755, owner: null },
    { kind: "dir", path: state.path, mode: 0o700, owner: o.role === "master" ? o.user : null },
    // It may hold a token: root only, and readable by the master's group where a master runs.
    { kind: "file", path: o.configFile, mode: o.role === "master" ? 0o640 : 0o600, owner: null, group: o.role === "master" ? o.user : null, content: configSkeleton(o), keepExisting: true, section: { key: o.role, text: configSection(o) } },
    { kind: "file", path: unitPath(o.role), mode: 0o644, owner: null, group: null, content: o.role === "master" ? masterUnit(o) : agentUnit(o), keepExisting: false, section: null },
  ];
}
