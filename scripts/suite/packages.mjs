// The Debian packages the tests use: installed when missing (as root on an apt system, saying so).
import { spawnSync } from "node:child_process";
import { timing } from "./outcome.mjs";

/** Debian packages the tests need, and a program each provides (for systems without dpkg). */
const PACKAGES = [
  { name: "iproute2", program: "ip" },
  { name: "iputils-ping", program: "ping" },
  { name: "iptables", program: "iptables" },
  { name: "procps", program: "ps" },
  { name: "kmod", program: "modprobe" },
  { name: "util-linux", program: "nsenter" },
  // Tests of a user who runs the library through sudo (src/test-support/sudo-user.ts).
  { name: "sudo", program: "sudo" },
  // Packet captures (src/evidence: capture(), the fixtures' evidence of a failed test).
  { name: "tcpdump", program: "tcpdump" },
  // The kernel lab (scripts/lab, docs/lab.md): QEMU with Debian's stock kernel and its modules,
  // and a static busybox for the initramfs.
  { name: "qemu-system-x86", program: "qemu-system-x86_64", labOnly: true },
  { name: "linux-image-amd64", program: "/boot/vmlinuz-<release>", labOnly: true },
  { name: "busybox-static", program: "busybox", labOnly: true },
];
/** Bounded like everything else: a stuck mirror must fail the run, not hold it. */
const APT_TIMEOUT_MS = 15 * 60 * 1000;

const hasCommand = (name) => spawnSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" }).status === 0;

function missingPackages() {
  if (!hasCommand("dpkg-query")) return PACKAGES.filter((p) => !p.labOnly && !hasCommand(p.program));
  const query = spawnSync("dpkg-query", ["-W", "-f=${Package} ${db:Status-Abbrev}\n", ...PACKAGES.map((p) => p.name)], {
    encoding: "utf8",
  });
  const installed = new Set(
    query.stdout
      .split("\n")
      .filter((line) => / ii\s*$/.test(line))
      .map((line) => line.split(" ")[0].split(":")[0]),
  );
  return PACKAGES.filter((p) => !installed.has(p.name));
}

/**
 * Installs the missing packages. Throws with what to do when it cannot.
 * @returns {string | undefined} the time it took, when it installed anything
 */
export function ensurePackages() {
  const t0 = Date.now();
  const missing = missingPackages();
  if (missing.length === 0) return undefined;
  const names = missing.map((p) => p.name).join(" ");
  if (!hasCommand("apt-get")) {
    throw new Error(
      `these programs are missing: ${missing.map((p) => p.program).join(", ")}. Install their packages ` +
        `(Debian names: ${names}; on Fedora: dnf install iproute iputils iptables-nft procps-ng kmod util-linux)`,
    );
  }
  const command = `apt-get update && apt-get install -y --no-install-recommends ${names}`;
  if (process.getuid?.() !== 0)
    throw new Error(`missing Debian packages: ${names}. Install them with: sudo sh -c '${command}'`);
  console.log(`installing missing Debian packages: ${names}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const [what, argv] of [
    ["apt-get update", ["update"]],
    ["apt-get install", ["install", "-y", "--no-install-recommends", ...missing.map((p) => p.name)]],
  ]) {
    const result = spawnSync("apt-get", argv, {
      stdio: ["ignore", "inherit", "inherit"],
      env,
      timeout: APT_TIMEOUT_MS,
    });
    if (result.status !== 0)
      throw new Error(
        `${what} failed${result.error ? ` (${result.error.message})` : ""}; install the packages yourself: ${command}`,
      );
  }
  return timing("package install", t0);
}
