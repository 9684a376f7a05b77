/**
 * The capture engine of rootless mode: a packet socket opened by Perl
 * (perl-base, which every Debian system has), because Debian's tcpdump
 * cannot run inside the holder: started as root of the holder's user
 * namespace it switches users after opening the interface (initgroups, even
 * with `-Z root`), and a user namespace made without root denies setgroups.
 * A packet socket needs only CAP_NET_RAW in the namespace's user namespace,
 * which the holder's root has, and switches no user.
 *
 * It speaks tcpdump's dialect, so capture.ts does not care which engine
 * runs: `perl -e SCRIPT IFACE SNAPLEN` prints "listening on IFACE" on stderr
 * once the socket is bound to the interface, writes classic pcap (Ethernet)
 * to standard output, each packet at once (as `tcpdump -U -w -`), and on
 * SIGINT or SIGTERM prints "N packets captured" and exits 0. Timestamps are
 * the kernel's (SIOCGSTAMP). The fixtures' rings have an engine of their own
 * in one process (capture-launcher.ts).
 */
import { MissingProgramError } from "../errors.js";
import { findExecutable } from "../system/executables.js";
import { missingProgramHint } from "../system/hints.js";

const SCRIPT = String.raw`
use strict; use Socket;
my ($if, $snap) = @ARGV;
# AF_PACKET, SOCK_RAW (Ethernet frames), ETH_P_ALL, bound to the interface (SIOCGIFINDEX).
socket(my $s, 17, 3, 0x0300) or die "socket: $!\n";
my $req = pack('a16 x16', $if);
ioctl($s, 0x8933, $req) or die "$if: no such interface ($!)\n";
bind($s, pack('S n i S C C a8', 17, 3, unpack('x16 i', $req), 0, 0, 0, '')) or die "bind $if: $!\n";
my ($count, $stop) = (0, 0);
binmode STDOUT;
syswrite(STDOUT, pack('L S S l L L L', 0xa1b2c3d4, 2, 4, 0, 0, $snap, 1)) // die "write: $!\n";
$SIG{INT} = $SIG{TERM} = sub { $stop = 1 };
$SIG{PIPE} = 'IGNORE';
print STDERR "listening on $if\n";
my ($rin, $buf, $tv) = ('', '', "\0" x 16);
vec($rin, fileno($s), 1) = 1;
while (!$stop) {
  my $ready = select(my $r = $rin, undef, undef, 0.5);
  next if $ready <= 0;
  my $from = recv($s, $buf, 262144, 0x40);
  if (!defined $from) { next if $!{EAGAIN} || $!{EINTR}; die "recv: $! (the interface went away?)\n" }
  my ($sec, $usec) = ioctl($s, 0x8906, $tv) ? unpack('q q', $tv) : (time, 0);
  my $len = length $buf;
  my $keep = $len < $snap ? $len : $snap;
  syswrite(STDOUT, pack('L L L L', $sec, $usec, $keep, $len) . substr($buf, 0, $keep)) // die "write: $!\n";
  $count++;
}
print STDERR "$count packets captured\n";
`;

/** Where Perl is (the fixtures' capture hub and rootless captures run it), or a MissingProgramError naming its package. */
export function requirePerl(): string {
  const perl = findExecutable("perl", ["/usr/bin", "/bin"]);
  if (perl !== undefined) return perl;
  throw new MissingProgramError(
    ["perl"],
    "perl",
    "perl-base",
    "the test fixtures' packet recording and captures in rootless mode need perl, which is not installed",
    missingProgramHint("perl"),
  );
}

/** The argv of the packet-socket engine (see the file comment). */
export function packetEngineArgv(iface: string, snaplen: number): string[] {
  return [requirePerl(), "-e", SCRIPT, iface, String(snaplen)];
}
