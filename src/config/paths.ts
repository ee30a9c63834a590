/** Data dir default (design §9): /var/lib/lava as root, ./lava-data otherwise. */
export function defaultDataDir(uid: number | undefined = process.getuid?.()): string {
  return uid === 0 ? "/var/lib/lava" : "./lava-data";
}

/**
 * Agent state dir default (design §11): /var/lib/lava-agent as root,
 * ./lava-agent-data otherwise. When the host name is overridden (several
 * agents on one machine) and no state dir is set, each name gets its own
 * subdirectory, so two agents never share a host key or job records.
 */
export function defaultAgentStateDir(hostnameOverride: string | undefined, uid: number | undefined = process.getuid?.()): string {
  const base = uid === 0 ? "/var/lib/lava-agent" : "./lava-agent-data";
  return hostnameOverride ? `${base}/${hostnameOverride}` : base;
}
