/** Data dir default (design §9): /var/lib/lava as root, ./lava-data otherwise. */
export function defaultDataDir(uid: number | undefined = process.getuid?.()): string {
  return uid === 0 ? "/var/lib/lava" : "./lava-data";
}
