import { defineCommand } from "citty";
import { commonArgs, flagsToConfig } from "../cli/args.ts";
import { loadConfig } from "../config/index.ts";
import { configureLogging } from "../log/index.ts";
import { meta } from "../cli/meta.ts";

const flags = ["data-dir", "bind", "udp-port", "http-port", "tcp-report-port", "advertise", "insecure", "secret-file", "node-id", "raft-peers", "is-leader", "log-level", "log-format"] as const;

export default defineCommand({
  meta: meta({ name: "master", description: "Run a master: live host table, HTTP API, control channel, scheduler", examples: ["lava master --data-dir /var/lib/lava", "LAVA_NODE_ID=1 LAVA_RAFT_PEERS=2=m2:6880,3=m3:6880 lava master --secret-file /etc/lava/secret", "lava master --insecure --data-dir ./lava-data"] }),
  args: {
    ...commonArgs,
    "data-dir": { type: "string", description: "Data directory (default ./lava-data, /var/lib/lava as root; env LAVA_DATA_DIR)", valueHint: "DIR" },
    bind: { type: "string", description: "Address to bind (default 0.0.0.0)", valueHint: "ADDR" },
    "udp-port": { type: "string", description: "UDP port for load reports (default 6879)", valueHint: "PORT" },
    "http-port": { type: "string", description: "HTTP/WebSocket port (default 6880)", valueHint: "PORT" },
    "tcp-report-port": { type: "string", description: "TCP port for length-framed reports, 0 = off (default 0)", valueHint: "PORT" },
    advertise: { type: "string", description: "host:port agents and ctl use to reach this master", valueHint: "ADDR" },
    insecure: { type: "boolean", description: "Development mode: no tokens, unauthenticated reports accepted" },
    "secret-file": { type: "string", description: "Cluster secret file (default <data-dir>/secret)", valueHint: "FILE" },
    "node-id": { type: "string", description: "This master's Raft node id, unique in the cluster (default 1; env LAVA_NODE_ID)", valueHint: "ID" },
    "raft-peers": { type: "string", description: "The other masters, comma-separated ID=HOST:PORT (env LAVA_RAFT_PEERS); none: a single master", valueHint: "PEERS" },
    "is-leader": { type: "boolean", description: "Bootstrap hint: campaign at once on start (env LAVA_IS_LEADER)" },
    reinit: { type: "boolean", description: "Start with empty state although this data dir held a master's state (lava.db lost); see docs/operations.md" },
  },
  async run({ args }) {
    const { config } = loadConfig({ role: "master", configFile: args.config, flags: flagsToConfig(args, flags) });
    configureLogging(config.log);
    const { runMaster } = await import("./run.ts");
    await runMaster(config, { reinit: args.reinit === true });
  },
});
