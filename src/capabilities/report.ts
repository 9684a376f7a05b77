/**
 * The capabilities report: what `detectCapabilities()` says of this machine,
 * one status per kernel feature, plus privileges, cgroups, iptables and the
 * programs the library runs.
 */
import type { CGroupStatus } from "../cgroups/layout.js";

/** Kernel features a test file can require (`// requires: netem, vlan`). */
export const KERNEL_FEATURES = [
  "netns",
  "veth",
  "bridge",
  "vlan",
  "netem",
  "ifb",
  "htb",
  "tbf",
  "ingress",
  "cgroup2",
  "iptables",
] as const;
/** One of `KERNEL_FEATURES`. */
export type KernelFeature = (typeof KERNEL_FEATURES)[number];

/** Programs the library runs. */
export const PROGRAMS = ["ip", "tc", "iptables", "ping", "nsenter", "modprobe"] as const;
/** One of `PROGRAMS`. */
export type ProgramName = (typeof PROGRAMS)[number];

/** Whether one kernel feature works here, on what evidence, and how to get it. */
export interface FeatureStatus {
  /** The feature works here. */
  available: boolean;
  /** True when a real attempt decided it; false when read off hints (no privileges, or probing disabled). */
  probed: boolean;
  /** What the answer rests on: the probe's command and the kernel's reply, or the hint that was found. */
  evidence: string;
  /** How to get the feature; set when it is not available. */
  howToGet?: string;
}

/** Whether a program the library runs is installed, and how to get it. */
export type ProgramStatus =
  | {
      /** The program is on PATH (or in /usr/sbin, /sbin). */
      available: true;
      /** Absolute path found on PATH (or in /usr/sbin, /sbin). */
      path: string;
      howToGet?: undefined;
    }
  | {
      available: false;
      path?: undefined;
      /** How to install it (the Debian package). */
      howToGet: string;
    };

/** Whether dummynet can change the system: root, or passwordless sudo. */
export interface PrivilegeStatus {
  /** The process runs as uid 0. */
  root: boolean;
  /** `not-needed` as root; otherwise whether `sudo -n` works without a password. */
  sudo: "not-needed" | "passwordless" | "needs-password" | "missing";
  /** Root, or passwordless sudo: dummynet can change the system. */
  available: boolean;
  /** How to get the privileges; set when they are missing. */
  howToGet?: string;
}

/** Which iptables is installed, if any. */
export interface IptablesStatus {
  /** Backend of the `iptables` program on PATH. */
  flavour: "nft" | "legacy" | "missing";
  /** `iptables --version` output. */
  version?: string;
}

/**
 * What this kernel and machine can do for dummynet, as `detectCapabilities()` finds it: one `FeatureStatus`
 * per kernel feature (`netns`, `veth`, `bridge`, `vlan`, `netem`, `ifb`, `htb`, `tbf`, `ingress`, `cgroup2`, `iptables`),
 * plus privileges, cgroups, iptables and programs.
 */
export interface Capabilities extends Record<KernelFeature, FeatureStatus> {
  /** `uname -r` */
  kernelRelease: string;
  /** Root or passwordless sudo. */
  privileges: PrivilegeStatus;
  /** The cgroup layout and controllers. */
  cgroup: CGroupStatus;
  /** The iptables backend on PATH. */
  iptablesFlavour: IptablesStatus;
  /** Each program the library runs, installed or not. */
  programs: Record<ProgramName, ProgramStatus>;
  /** How long detection took, in ms. */
  detectionMs: number;
}
