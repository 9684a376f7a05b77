/**
 * The capture engine of rootless mode: a packet socket opened by Perl
 * (perl-base, which every Debian system has), because Debian's tcpdump
 * cannot run inside the holder: started as root of the holder's user
 * namespace it switches users after opening the interface (initgroups, even
 * with `-Z root`), and a user namespace made without root denies setgroups.
 * A packet socket needs only CAP_NET_RAW in the namespace's user namespace,
 * which the holder's root has, and switches no user.
 *
 * It speaks tcpdump's dialect, so the rest of the evidence code does not
 * care which engine runs: `perl -e SCRIPT IFACE SNAPLEN FILE_BYTES FILES OUT`
 * prints "listening on IFACE" on stderr once the socket is open, writes
 * classic pcap to OUT ("-": standard output, each packet at once, as
 * `tcpdump -U -w -`; else a ring of FILES files OUT0.. of FILE_BYTES bytes,
 * as `-C -W`), and on SIGINT or SIGTERM prints "N packets captured" and
 * exits 0. IFACE "any": every interface of the namespace, as Linux cooked
 * capture v2 (the header names each packet's interface, as `tcpdump -i any`);
 * else that interface, as Ethernet. Timestamps are the kernel's (SIOCGSTAMP).
 */
import { accessSync, constants } from "node:fs";
import { MissingProgramError } from "../errors.js";
import { missingProgramHint } from "../system/hints.js";

const SCRIPT = String.raw`
use strict; use Socket;
my ($if, $snap, $cap, $files, $out) = @ARGV;
my $any = $if eq 'any';
# AF_PACKET, SOCK_DGRAM (cooked: no link header) for any, SOCK_RAW (Ethernet) for one interface; ETH_P_ALL.
socket(my $s, 17, $any ? 2 : 3, 0x0300) or die "socket: $!\n";
unless ($any) {
  my $req = pack('a16 x16', $if);
  ioctl($s, 0x8933, $req) or die "$if: no such interface ($!)\n";
  my $index = unpack('x16 i', $req);
  bind($s, pack('S n i S C C a8', 17, 3, $index, 0, 0, 0, '')) or die "bind $if: $!\n";
}
my ($fh, $size, $n, $count, $stop) = (undef, 0, 0, 0, 0);
my $header = pack('L S S l L L L', 0xa1b2c3d4, 2, 4, 0, 0, $snap, $any ? 276 : 1);
sub open_next {
  if ($out eq '-') { $fh = \*STDOUT } else { open($fh, '>', $out . ($n++ % $files)) or die "$out: $!\n" }
  binmode $fh; syswrite($fh, $header) // die "write: $!\n"; $size = length $header;
}
open_next();
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
  my $data = $buf;
  if ($any) {
    my (undef, $proto, $index, $hatype, $type, $halen, $addr) = unpack('S n i S C C a8', $from);
    $data = pack('n n N n C C a8', $proto, 0, $index, $hatype, $type, $halen, $addr) . $data;
  }
  my $len = length $data;
  my $keep = $len < $snap ? $len : $snap;
  my $record = pack('L L L L', $sec, $usec, $keep, $len) . substr($data, 0, $keep);
  open_next() if $out ne '-' && $size + length($record) > $cap && $size > length $header;
  syswrite($fh, $record) // die "write: $!\n";
  $size += length $record; $count++;
}
print STDERR "$count packets captured\n";
`;

/** Where Perl is, or a MissingProgramError naming its package. */
export function requirePerl(): string {
  for (const candidate of ["/usr/bin/perl", "/bin/perl"]) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  throw new MissingProgramError(
    ["perl"],
    "perl",
    "perl-base",
    "captures in rootless mode need perl, which is not installed",
    missingProgramHint("perl"),
  );
}

/**
 * The argv of the packet-socket engine (see the file comment), without OUT: the caller appends it
 * (`-` for standard output, or the ring's file prefix).
 */
export function packetEngineArgv(
  iface: string,
  snaplen: number,
  ring?: { fileBytes: number; files: number },
): string[] {
  return [requirePerl(), "-e", SCRIPT, iface, String(snaplen), String(ring?.fileBytes ?? 0), String(ring?.files ?? 1)];
}
