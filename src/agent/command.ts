import { defineCommand } from "citty";
import { commonArgs, flagsToConfig } from "../cli/args.ts";
import { loadConfig } from "../config/index.ts";
import { configureLogging } from "../log/index.ts";
import { meta } from "../cli/meta.ts";

const flags = ["master", "token", "token-file", "interval", "hostname", "state-dir", "report-port", "report-transport", "proc-root", "insecure", "reconnect-min", "reconnect-max", "log-level", "log-format"] as const;

export default defineCommand({
  meta: meta({ name: "agent", description: "Run an agent: report this host's load, take commands and jobs", examples: ["lava agent --master m1:6880 --token \"$(cat /etc/lava/agent.token)\"", "lava agent --master m1:6880,m2:6880,m3:6880 --config /etc/lava/lava.yaml", "lava agent --insecure --master 127.0.0.1:6880 --hostname test1 --state-dir /tmp/test1"] }),
  args: {
    ...commonArgs,
    master: { type: "string", description: "Master host:port (or https://host:port), comma-separated list (env LAVA_MASTER)", valueHint: "ADDRS" },
    token: { type: "string", description: "Agent token (env LAVA_TOKEN); prefer --token-file, which ps does not show", valueHint: "JWT" },
    "token-file": { type: "string", description: "File holding the agent token (env LAVA_TOKEN_FILE)", valueHint: "FILE" },
    interval: { type: "string", description: "Report interval in seconds (default 4)", valueHint: "SECONDS" },
    hostname: { type: "string", description: "Host name to register as (default: the system's)", valueHint: "NAME" },
    "state-dir": { type: "string", description: "Where the host key and job records live (default /var/lib/lava-agent as root, ./lava-agent-data otherwise)", valueHint: "DIR" },
    "report-port": { type: "string", description: "Local UDP port to send reports from (default any)", valueHint: "PORT" },
    "report-transport": { type: "string", description: "How reports travel: udp, tcp (the master's TCP report port) or auto (UDP, TCP while UDP reports do not arrive; default)", valueHint: "udp|tcp|auto" },
    "proc-root": { type: "string", description: "Where /proc is (default /proc)", valueHint: "DIR" },
    insecure: { type: "boolean", description: "Send reports without AUTH (master in --insecure mode)" },
    "reconnect-min": { type: "string", description: "First reconnect delay in seconds (default 10)", valueHint: "SECONDS" },
    "reconnect-max": { type: "string", description: "Reconnect backoff cap in seconds (default 300)", valueHint: "SECONDS" },
  },
  async run({ args }) {
    const { config, file } = loadConfig({ role: "agent", configFile: args.config, flags: flagsToConfig(args, flags) });
    configureLogging(config.log);
    const { runAgent } = await import("./run.ts");
    await runAgent(config, { configFile: file });
  },
});
