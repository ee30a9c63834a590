export * from "./schema.ts";
export * from "./load.ts";
export { defaultAgentStateDir, defaultDataDir } from "./paths.ts";
export { clientTls, explainFailure, masterTls, peerLink, tlsAdvice, PLAIN_PEERS, type ClientTls, type MasterTls, type PeerLink } from "./tls.ts";
