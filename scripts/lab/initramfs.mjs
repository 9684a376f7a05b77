// The QEMU lab's initramfs, built at run time: a gzip'ed cpio ("newc") archive
// holding a static busybox, the guest kernel's 9p modules and an /init that
// mounts the host's / over virtio-9p and switch_roots to the lab's guest init
// there. Written in Node (zlib) so the lab needs neither cpio nor gzip.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

/**
 * Modules the initramfs needs to mount the host's / (a virtio-9p device on
 * PCI). Each is loaded after the modules it depends on (modules.dep decides).
 */
export const ROOT_MODULES = ["virtio_pci", "9pnet_virtio", "9p"];

/**
 * The module files to insmod for `names`, dependencies first, read off the
 * kernel's modules.dep. Built-in modules (modules.builtin) need no file.
 * @returns {{ name: string, path: string }[]} path relative to the module tree
 */
export function moduleLoadOrder(moduleTree, names) {
  const deps = new Map();
  for (const line of readFileSync(join(moduleTree, "modules.dep"), "utf8").split("\n")) {
    const at = line.indexOf(":");
    if (at < 0) continue;
    const file = line.slice(0, at);
    deps.set(moduleName(file), {
      file,
      needs: line
        .slice(at + 1)
        .trim()
        .split(/\s+/)
        .filter(Boolean),
    });
  }
  const builtin = new Set(
    readFileSync(join(moduleTree, "modules.builtin"), "utf8").split("\n").filter(Boolean).map(moduleName),
  );
  const order = [];
  const seen = new Set();
  const visit = (name) => {
    if (seen.has(name) || builtin.has(name)) return;
    seen.add(name);
    const entry = deps.get(name);
    if (!entry) throw new Error(`module ${name} is neither in ${moduleTree}/modules.dep nor built in`);
    for (const file of entry.needs) visit(moduleName(file));
    order.push({ name, path: entry.file });
  };
  for (const name of names) visit(name.replace(/-/g, "_"));
  return order;
}

/** kernel/net/9p/9pnet_virtio.ko(.xz) -> 9pnet_virtio (modprobe treats - and _ alike). */
function moduleName(file) {
  return file
    .split("/")
    .at(-1)
    .replace(/\.ko(\.\w+)?$/, "")
    .replace(/-/g, "_");
}

/**
 * The /init script. Mount options: msize 512 KiB (fewer round trips for big
 * reads such as node's binary); cache=loose (metadata and pages cached in the
 * guest; the host changes nothing the guest reads while it runs). /proc and
 * /sys are unmounted, not moved: guest-init.sh mounts them fresh (a moved
 * /proc was unusable under cache=loose, docs/lab.md).
 */
export function initScript({ modules, guestInit }) {
  return `#!/bin/busybox sh
# dummynet kernel lab, QEMU guest, stage 1: mount the host's / and hand over.
export PATH=/bin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
fail() { echo "[lab] initramfs: $*"; echo o > /proc/sysrq-trigger; sleep 60; }
${modules.map((m) => `insmod /modules/${m.path.split("/").at(-1)} || fail "insmod ${m.name} failed"`).join("\n")}
mkdir -p /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose host /newroot || fail "cannot mount the host's / over 9p"
mount --move /dev /newroot/dev
umount /proc /sys
exec switch_root /newroot ${guestInit}
`;
}

/**
 * The gzip'ed archive, as a Buffer.
 * @param {{ busybox: string, moduleTree: string, guestInit: string }} options
 */
export function buildInitramfs({ busybox, moduleTree, guestInit }) {
  const modules = moduleLoadOrder(moduleTree, ROOT_MODULES);
  for (const m of modules) {
    if (!m.path.endsWith(".ko"))
      throw new Error(`${m.path}: compressed modules are not supported in the lab's initramfs`);
  }
  const archive = new CpioWriter();
  for (const dir of ["bin", "dev", "proc", "sys", "modules", "newroot"]) archive.directory(dir);
  archive.file("bin/busybox", readFileSync(busybox), 0o755);
  for (const m of modules)
    archive.file(`modules/${m.path.split("/").at(-1)}`, readFileSync(join(moduleTree, m.path)), 0o644);
  archive.file("init", Buffer.from(initScript({ modules, guestInit })), 0o755);
  // gzip level 1: the archive is built at every run, and the kernel unpacks it in milliseconds either way.
  return gzipSync(archive.finish(), { level: 1 });
}

/** The "newc" cpio format the kernel unpacks (see the kernel's Documentation/driver-api/early-userspace/buffer-format.rst). */
class CpioWriter {
  #parts = [];
  #inode = 1;

  directory(name) {
    this.#entry(name, 0o040755, Buffer.alloc(0));
  }

  file(name, data, mode) {
    this.#entry(name, 0o100000 | mode, data);
  }

  finish() {
    this.#entry("TRAILER!!!", 0, Buffer.alloc(0));
    return Buffer.concat(this.#parts);
  }

  #entry(name, mode, data) {
    const nameBytes = Buffer.from(`${name}\0`);
    const fields = [
      this.#inode++,
      mode,
      0,
      0,
      mode & 0o040000 ? 2 : 1,
      0,
      data.length,
      0,
      0,
      0,
      0,
      nameBytes.length,
      0,
    ];
    const header = Buffer.from(`070701${fields.map((n) => n.toString(16).padStart(8, "0")).join("")}`);
    this.#parts.push(header, nameBytes, padding(header.length + nameBytes.length), data, padding(data.length));
  }
}

function padding(length) {
  return Buffer.alloc((4 - (length % 4)) % 4);
}
