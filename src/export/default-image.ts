/**
 * The image of a host that names none: nicolaka/netshoot, which has what the
 * exported commands use (iproute2's ip, tc and ss; iptables; sysctl, sh,
 * grep, timeout from busybox) and is pinned to a release. What it holds is
 * read from its Dockerfile at v0.16 (Alpine 3.24.1 and edge: its `apk add`
 * list, busybox and the binaries it copies in); the image itself was not
 * pulled here.
 */

/** The default image of exported hosts. */
export const DEFAULT_EXPORT_IMAGE = "nicolaka/netshoot:v0.16";

/** Programs known to be in the default image, by the name a command starts with. */
export const DEFAULT_IMAGE_PROGRAMS: ReadonlySet<string> = new Set(
  [
    // shells and busybox applets
    "sh ash bash zsh busybox env true false test echo printf sleep cat grep egrep fgrep sed awk cut head tail tr wc",
    "sort uniq tee timeout kill ps ls cp mv rm mkdir touch date hostname id nohup seq xargs find stat ln chmod",
    // networking (iproute2, iptables, nftables and the rest of its apk list)
    "ip tc ss bridge sysctl iptables ip6tables iptables-save iptables-restore nft ping ping6 arping traceroute",
    "tracepath curl wget nc socat nmap nping iperf iperf3 tcpdump tshark dumpcap dig nslookup host drill jq",
    "python3 perl ssh scp ethtool conntrack ipset ipvsadm mtr fping iftop iptraf-ng strace ltrace vim vi git",
    "openssl http ab websocat swaks speedtest-cli bird birdc trip file",
    // copied in from release binaries
    "ctop calicoctl termshark grpcurl fortio",
  ]
    .join(" ")
    .split(" "),
);
