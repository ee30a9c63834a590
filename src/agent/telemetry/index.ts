/** The agent's telemetry (design §4): what it collects, and when it sends it. */
export { TelemetryCollector, fitToBound, type TelemetrySources } from "./collect.ts";
export { createTelemetryMonitor, type TelemetryMonitor } from "./monitor.ts";
