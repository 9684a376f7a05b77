/**
 * setns(2)'s system call number on each architecture Node runs on, for the
 * Perl helpers that enter namespaces through syscall() (Perl has no setns of
 * its own); undefined where we do not know it.
 */
const NUMBERS: Partial<Record<NodeJS.Architecture, number>> = {
  x64: 308,
  arm64: 268,
  riscv64: 268,
  loong64: 268,
  arm: 375,
  ia32: 346,
  ppc64: 350,
  s390x: 339,
};

export const SETNS_SYSCALL: number | undefined = NUMBERS[process.arch];
