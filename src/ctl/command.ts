/**
 * `lava ctl`: talks to the master's HTTP API (docs/api.md). Human tables by
 * default, `--json` for scripts. Exit codes (design §8): 0 ok, 1 the request
 * failed, 2 usage or config error, 3 no master reachable.
 */
import { defineCommand } from "citty";
import { meta } from "../cli/meta.ts";

export default defineCommand({
  meta: meta({ name: "ctl", description: "Query and command the cluster and its jobs (tables for people, --json for scripts)", examples: ["lava ctl load", "lava ctl submit --cpus 2 -- ./simulate --steps 1000", "lava ctl check"] }),
  subCommands: {
    load: () => import("./load.ts").then((m) => m.default),
    hosts: () => import("./hosts.ts").then((m) => m.default),
    host: () => import("./host.ts").then((m) => m.default),
    status: () => import("./status.ts").then((m) => m.default),
    submit: () => import("./submit.ts").then((m) => m.default),
    jobs: () => import("./jobs.ts").then((m) => m.default),
    job: () => import("./job.ts").then((m) => m.default),
    cancel: () => import("./cancel.ts").then((m) => m.default),
    wait: () => import("./wait.ts").then((m) => m.default),
    drain: () => import("./drain.ts").then((m) => m.default),
    resume: () => import("./resume.ts").then((m) => m.default),
    token: () => import("./token.ts").then((m) => m.default),
    audit: () => import("./audit.ts").then((m) => m.default),
    exec: () => import("./exec.ts").then((m) => m.default),
    health: () => import("./health.ts").then((m) => m.default),
    alerts: () => import("./alerts.ts").then((m) => m.default),
    logs: () => import("./logs.ts").then((m) => m.default),
    check: () => import("./check.ts").then((m) => m.default),
    upgrade: () => import("./upgrade.ts").then((m) => m.default),
    cluster: () => import("./cluster.ts").then((m) => m.default),
    "force-resync": () => import("./force-resync.ts").then((m) => m.default),
    approve: () => import("./approve.ts").then((m) => m.default),
    deny: () => import("./deny.ts").then((m) => m.default),
    approvals: () => import("./approvals.ts").then((m) => m.default),
    deploy: () => import("./deploy.ts").then((m) => m.default),
    history: () => import("./history.ts").then((m) => m.default),
    telemetry: () => import("./telemetry.ts").then((m) => m.default),
    peek: () => import("./peek.ts").then((m) => m.default),
    hold: () => import("./hold.ts").then((m) => m.default),
    release: () => import("./release.ts").then((m) => m.default),
    acct: () => import("./acct.ts").then((m) => m.default),
    queues: () => import("./queues.ts").then((m) => m.default),
  },
});
