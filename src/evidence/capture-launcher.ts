/**
 * The fixtures' capture engine: one long-lived Perl process per privilege
 * (per test process), the "hub", that records every host of every test's
 * network. For each host it enters the namespace (setns), opens a packet
 * socket there (AF_PACKET, every interface, cooked: what `tcpdump -i any`
 * opens) and goes back; the socket keeps recording that namespace. So a
 * host costs one line on a pipe and three system calls instead of a process
 * start (a `tcpdump` per host was most of what evidence cost a passing test:
 * docs/evidence.md), and the same engine runs rootless, where tcpdump
 * cannot (packet-engine.ts says why). The hub reads commands on its
 * standard input:
 *
 *   start ID NAMESPACE-PATH FILE   records the namespace into a ring of files FILE0..FILE3 (the newest ~4 MB)
 *   stop ID                        writes what the socket still holds, closes it and the file
 *   drop ID                        closes them at once (a passing test's recording)
 *
 * and tells, one line each, prefixed by the capture's ID: "listening on any"
 * once it records, a problem if any, "N packets captured" and `@exit STATUS`
 * when it ends. Files are written in Linux cooked capture v2, as tcpdump
 * -i any writes them. When this process ends, the hub sees its input close
 * and exits, closing every socket.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import type { Socket } from "node:net";
import { createInterface } from "node:readline";
import type { Privilege } from "../system/privilege.js";
import { SETNS_SYSCALL } from "../system/setns.js";
import { requirePerl } from "./packet-engine.js";

/** Bytes of each packet kept: headers and some payload, which is what a failure's story needs. */
export const EVIDENCE_SNAPLEN = 2048;
/** The ring: RING_FILES files of RING_FILE_BYTES bytes each (as tcpdump's -W 4 -C 1). */
export const RING_FILES = 4;
const RING_FILE_BYTES = 1_000_000;

const HUB = String.raw`use strict; use Socket;
my ($setns, $snap, $cap, $files) = @ARGV;
$SIG{PIPE} = 'IGNORE';
$SIG{CHLD} = 'IGNORE';
open(my $home, '<', '/proc/self/ns/net') or die "/proc/self/ns/net: $!\n";
my $header = pack('L S S l L L L', 0xa1b2c3d4, 2, 4, 0, 0, $snap, 276);
my (%live, %by_fd);
sub tell_ { syswrite(STDOUT, join('', map { "$_[0] $_\n" } @_[1 .. $#_])) }
sub next_file {
  my $c = shift;
  close $c->{fh} if $c->{fh};
  open($c->{fh}, '>', $c->{out} . ($c->{n}++ % $files)) or return "$c->{out}: $!";
  binmode $c->{fh};
  syswrite($c->{fh}, $header) // return "write $c->{out}: $!";
  $c->{size} = length $header;
  return;
}
sub finish {
  my ($id, $status, $why) = @_;
  my $c = delete $live{$id} or return;
  delete $by_fd{fileno $c->{s}};
  close $c->{fh} if $c->{fh};
  # The last close of a packet socket waits for an RCU grace period (docs/performance.md): a child makes it as it
  # exits, so that neither this loop, nor the other captures, nor the test wait. The namespace outlives its deletion
  # by that much, as it does while the kernel tears it down: nothing outside it can tell.
  my $pid = fork();
  exit 0 if defined $pid && $pid == 0;
  close $c->{s};
  tell_($id, ($why ? ($why) : ()), "$c->{count} packets captured", "\@exit $status");
}
sub start {
  my ($id, $ns, $out) = @_;
  my $fail = sub { tell_($id, $_[0], '@exit 1') };
  open(my $fd, '<', $ns) or return $fail->("$ns: $!");
  syscall($setns, fileno($fd), 0x40000000) == 0 or return $fail->("setns $ns: $!");
  my $ok = socket(my $s, 17, 2, 0x0300); my $err = $!;
  syscall($setns, fileno($home), 0x40000000) == 0 or die "setns back: $!\n";
  $ok or return $fail->("socket in $ns: $err");
  my $c = { s => $s, out => $out, n => 0, count => 0 };
  if (my $why = next_file($c)) { close $s; return $fail->($why) }
  $live{$id} = $c; $by_fd{fileno $s} = $id;
  tell_($id, 'listening on any');
}
sub packet {
  my ($id, $most) = @_;
  my $c = $live{$id};
  for (1 .. $most) {
    my $from = recv($c->{s}, my $buf, 262144, 0x40);
    if (!defined $from) { return if $!{EAGAIN} || $!{EINTR}; return finish($id, 1, "recv: $!") }
    my $tv = "\0" x 16;
    my ($sec, $usec) = ioctl($c->{s}, 0x8906, $tv) ? unpack('q q', $tv) : (time, 0);
    my (undef, $proto, $index, $hatype, $type, $halen, $addr) = unpack('S n i S C C a8', $from);
    my $data = pack('n n N n C C a8', $proto, 0, $index, $hatype, $type, $halen, $addr) . $buf;
    my $len = length $data;
    my $keep = $len < $snap ? $len : $snap;
    my $record = pack('L L L L', $sec, $usec, $keep, $len) . substr($data, 0, $keep);
    if ($c->{size} + length($record) > $cap && $c->{size} > length $header) {
      if (my $why = next_file($c)) { return finish($id, 1, $why) }
    }
    defined syswrite($c->{fh}, $record) or return finish($id, 1, "write $c->{out}: $!");
    $c->{size} += length $record; $c->{count}++;
  }
}
my $in = '';
while (1) {
  my $rin = '';
  vec($rin, 0, 1) = 1;
  vec($rin, $_, 1) = 1 for keys %by_fd;
  next if select(my $r = $rin, undef, undef, undef) <= 0;
  for my $fd (grep { vec($r, $_, 1) } keys %by_fd) { packet($by_fd{$fd}, 64) if exists $by_fd{$fd} }
  next unless vec($r, 0, 1);
  my $got = sysread(STDIN, $in, 4096, length $in);
  next if !defined $got && $!{EINTR};
  last unless $got;
  while ($in =~ s/^(.*)\n//) {
    my ($cmd, @args) = split ' ', $1;
    if ($cmd eq 'start') { start(@args) }
    elsif ($cmd eq 'stop') { packet($args[0], 1e6) if $live{$args[0]}; finish($args[0], 0) }
    elsif ($cmd eq 'drop') { finish($args[0], 137) }
  }
}
`;

/** What a running capture is told. */
export interface LaunchedCapture {
  /** Resolves once the hub records the namespace ("listening on"), or rejects with why it did not. */
  readonly listening: Promise<void>;
  /** Resolves with the capture's exit status and what the hub said of it once it has ended. */
  readonly exited: Promise<{ status: number; stderr: string }>;
}

interface Pending extends LaunchedCapture {
  id: string;
  stderr: string;
  onLine(line: string): void;
}

class Launcher {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #captures = new Map<string, Pending>();
  #next = 0;
  #ended = false;

  constructor(privilege: Privilege) {
    if (SETNS_SYSCALL === undefined) {
      throw new Error(
        `the test fixtures' packet recording cannot enter namespaces on ${process.arch} (no setns system call number known for it): turn it off with evidence: "never" or DUMMYNET_EVIDENCE=never`,
      );
    }
    const hub = [requirePerl(), "-e", HUB, String(SETNS_SYSCALL), String(EVIDENCE_SNAPLEN), String(RING_FILE_BYTES)];
    // The README's sudoers line allows nsenter, not perl: nsenter without a namespace runs it as it is.
    const argv = privilege.wrap(["nsenter", "--", ...hub, String(RING_FILES)]);
    // Its own process group: a Ctrl-C in the terminal reaches this process, which stops the captures in order.
    this.#child = spawn(argv[0], argv.slice(1), { stdio: ["pipe", "pipe", "pipe"], detached: true });
    this.#child.stderr.setEncoding("utf8");
    this.#child.stderr.on("data", (text: string) => {
      this.#said = (this.#said + text).slice(-1024);
    });
    this.#child.stdin.on("error", () => undefined);
    this.#child.on("error", () => {
      this.#end("could not be started");
    });
    this.#child.on("close", (code, signal) => {
      this.#end(`ended (${String(code ?? signal)})${this.#said.trim() ? `: ${this.#said.trim()}` : ""}`);
    });
    createInterface({ input: this.#child.stdout }).on("line", (line) => {
      const space = line.indexOf(" ");
      this.#captures.get(line.slice(0, space))?.onLine(line.slice(space + 1));
    });
    this.#idle();
  }

  #said = "";

  get alive(): boolean {
    return !this.#ended;
  }

  start(namespacePath: string, file: string): LaunchedCapture {
    const id = `c${this.#next++}`;
    let ready!: () => void;
    let notReady!: (error: Error) => void;
    let exit!: (value: { status: number; stderr: string }) => void;
    const listening = new Promise<void>((resolve, reject) => ((ready = resolve), (notReady = reject)));
    listening.catch(() => undefined);
    const capture: Pending = {
      id,
      stderr: "",
      listening,
      exited: new Promise((resolve) => (exit = resolve)),
      onLine: (line) => {
        if (line.startsWith("@exit ")) {
          this.#captures.delete(id);
          this.#idle();
          notReady(new Error(capture.stderr.trim() || "the capture ended before it listened"));
          exit({ status: Number(line.slice(6)), stderr: capture.stderr });
        } else {
          capture.stderr = (capture.stderr + line + "\n").slice(-4096);
          if (line.startsWith("listening on ")) ready();
        }
      },
    };
    this.#captures.set(id, capture);
    if (this.#ended) capture.onLine("@exit 255");
    else {
      this.#hold(true);
      this.#child.stdin.write(`start ${id} ${namespacePath} ${file}\n`);
    }
    return capture;
  }

  /** INT: the hub writes what the socket holds and ends the capture; KILL: at once. Resolve on `exited`. */
  signal(capture: LaunchedCapture, signal: "INT" | "KILL"): void {
    const { id } = capture as Pending;
    if (!this.#ended && this.#captures.has(id))
      this.#child.stdin.write(`${signal === "INT" ? "stop" : "drop"} ${id}\n`);
  }

  #end(why: string): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const capture of [...this.#captures.values()]) {
      capture.stderr += `the capture hub ${why}\n`;
      capture.onLine("@exit 255");
    }
  }

  /** Keeps this process alive only while a capture runs. */
  #idle(): void {
    if (this.#captures.size === 0) this.#hold(false);
  }

  #hold(on: boolean): void {
    // The pipes of a spawned child are sockets (their types say only streams).
    const pipes = [this.#child.stdin, this.#child.stdout, this.#child.stderr] as unknown as Socket[];
    for (const handle of [this.#child, ...pipes])
      if (on) handle.ref();
      else handle.unref();
  }
}

const launchers = new Map<Privilege, Launcher>();

/**
 * Starts the hub of `privilege` ahead of the first capture (the test fixtures do as they load), so that a
 * first test does not wait for Perl to start; nothing when it cannot start (no Perl: the capture says why).
 */
export function startCaptureHub(privilege: Privilege): void {
  if (launchers.get(privilege)?.alive) return;
  try {
    launchers.set(privilege, new Launcher(privilege));
  } catch {
    // Told by the first capture, which tries again.
  }
}

/** Starts recording every interface of the namespace at `namespacePath` into the ring of files `file0`... */
export function launchCapture(
  privilege: Privilege,
  namespacePath: string,
  file: string,
): { capture: LaunchedCapture; launcher: Launcher } {
  let launcher = launchers.get(privilege);
  if (!launcher?.alive) launchers.set(privilege, (launcher = new Launcher(privilege)));
  return { capture: launcher.start(namespacePath, file), launcher };
}

export type { Launcher };
