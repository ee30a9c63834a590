/**
 * The mount table (/proc/mounts, or /proc/self/mounts) and which of its
 * entries are real local filesystems worth a `disk:<mountpoint>` check and
 * the `disk` alert metric. Pure.
 *
 * Left out: kernel pseudo filesystems (proc, sysfs, cgroup, …), memory
 * filesystems (tmpfs, devtmpfs, ramfs), container layers (overlay, aufs),
 * read-only images that are always full (squashfs snaps, iso9660), network
 * filesystems (the host whose disk it is reports it), and FUSE filesystems
 * (fuse.*: mostly network or synthetic; fuseblk, a block device behind
 * FUSE such as NTFS, is kept). A device mounted several times (bind mounts,
 * btrfs subvolumes, a container's /etc/hosts) counts once, at its shortest
 * mountpoint.
 */
export interface MountEntry {
  device: string;
  mountpoint: string;
  fstype: string;
}

/** More filesystems than this on one host are not checked (the health message has room for 256 checks). */
export const FILESYSTEMS_MAX = 64;

export const SKIPPED_FSTYPES: ReadonlySet<string> = new Set([
  // kernel and pseudo
  "proc", "sysfs", "devpts", "cgroup", "cgroup2", "securityfs", "debugfs", "tracefs", "pstore", "bpf", "mqueue",
  "hugetlbfs", "configfs", "fusectl", "binfmt_misc", "autofs", "efivarfs", "nsfs", "rpc_pipefs", "nfsd", "selinuxfs",
  "rootfs", "none", "devfs", "usbfs", "sockfs", "pipefs", "anon_inodefs", "ramfs", "tmpfs", "devtmpfs",
  // container layers and read-only images
  "overlay", "overlayfs", "aufs", "squashfs", "iso9660", "udf", "erofs",
  // network
  "nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "glusterfs", "9p", "afs", "lustre", "gpfs", "beegfs", "ncpfs", "davfs",
]);

/** "\040" (space), "\011" (tab), "\012" (newline), "\134" (backslash): how the kernel escapes mountpoints. */
function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Parses /proc/mounts text ("device mountpoint fstype options dump pass"); malformed lines are skipped. */
export function parseMounts(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 3 || !f[1]!.startsWith("/")) continue;
    out.push({ device: unescapeOctal(f[0]!), mountpoint: unescapeOctal(f[1]!), fstype: f[2]! });
  }
  return out;
}

export function isLocalFilesystem(m: MountEntry): boolean {
  if (SKIPPED_FSTYPES.has(m.fstype)) return false;
  if (m.fstype.startsWith("fuse.") || m.fstype === "fuse") return false;
  return true;
}

/** The real local filesystems, one entry per device (its shortest mountpoint), in mount-table order, at most `max`. */
export function localFilesystems(entries: readonly MountEntry[], max = FILESYSTEMS_MAX): MountEntry[] {
  const byDevice = new Map<string, MountEntry>();
  for (const m of entries) {
    if (!isLocalFilesystem(m)) continue;
    const seen = byDevice.get(m.device);
    if (seen === undefined) byDevice.set(m.device, m);
    else if (m.mountpoint.length < seen.mountpoint.length) byDevice.set(m.device, { ...seen, mountpoint: m.mountpoint });
  }
  return [...byDevice.values()].slice(0, max);
}
