import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { localFilesystems, parseMounts } from "../../../src/agent/health/index.ts";

const fixture = (name: string) => readFileSync(join(import.meta.dir, "fixtures", name), "utf8");

describe("mount table", () => {
  test("a host: real local filesystems only, one per device at its shortest mountpoint, escapes undone", () => {
    const fs = localFilesystems(parseMounts(fixture("mounts-host")));
    expect(fs.map((m) => [m.mountpoint, m.fstype])).toEqual([
      ["/", "ext4"],
      ["/boot/efi", "vfat"],
      ["/srv/data store", "xfs"],
      ["/home", "zfs"],
      ["/media/usb", "fuseblk"],
    ]);
  });

  test("a container: the overlay root, tmpfs and pseudo filesystems are left out; bind mounts of one disk count once", () => {
    const entries = parseMounts(fixture("mounts-container"));
    expect(entries).toHaveLength(12); // "garbage" is skipped
    const fs = localFilesystems(entries);
    expect(fs.map((m) => [m.device, m.mountpoint])).toEqual([
      ["/dev/vda1", "/etc/hosts"],
      ["/dev/vdb", "/data"],
    ]);
  });

  test("bounded: at most `max` filesystems", () => {
    const text = Array.from({ length: 100 }, (_, i) => `/dev/sd${i} /mnt/d${i} ext4 rw 0 0`).join("\n");
    expect(localFilesystems(parseMounts(text), 64)).toHaveLength(64);
  });
});
