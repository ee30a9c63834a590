/**
 * The agent's control-channel connection as a pure state machine
 * (machine.ts: reconnects, leader following, session tokens) and the
 * masters it knows (masters.ts). agent.ts wires it to sockets and timers.
 */
export { ConnectionMachine, CLOSE_GOING_AWAY, FORGOTTEN_GRACE_MS, REDIRECTS_MAX, seconds, sessionTokenRefused } from "./machine.ts";
export { MasterBook, sameMaster } from "./masters.ts";
export type { AgentState, ConnectionAction, ConnectionEvent, ConnectionOptions, ConnectionPhase, ConnectionView, ControlOutcome, Endpoint, LogLevel, TimerName } from "./types.ts";
