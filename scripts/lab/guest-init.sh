#!/bin/sh
# PID 1 of the dummynet kernel lab: a QEMU guest whose root file system is the
# host's / over virtio-9p (the initramfs, initramfs.mjs, mounted it and
# switch_rooted here, bringing the guest's own /proc, /sys and /dev). It gives
# the guest its own /run, /tmp and cgroup v2, loads the network modules, runs
# the requested lab tests (scripts/lab/guest-run.mjs) and powers off. The host
# reads the results from the per-run directory; the guest's own exit status
# means nothing.
#
# From the kernel command line (the kernel passes unknown key=value words to
# init as environment): DUMMYNET_LAB_RUN (per-run directory, written by the
# host, the only host place the guest writes to) and DUMMYNET_LAB_REPO (the
# checkout).

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN="${DUMMYNET_LAB_RUN:-}"
REPO="${DUMMYNET_LAB_REPO:-}"

say() { echo "[lab] $*"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# Power off ends QEMU: busybox's (the host's poweroff may be systemctl, which
# wants a running systemd), else through sysrq; PID 1 must not end first (the
# kernel would panic), hence the loop of shell built-ins.
halt_now() {
  sync
  busybox poweroff -f
  echo o > /proc/sysrq-trigger
  while :; do :; done
}

if [ -z "$RUN" ] || [ -z "$REPO" ]; then
  say "DUMMYNET_LAB_RUN and DUMMYNET_LAB_REPO must be given on the kernel command line"
  halt_now
fi

# Always mounted here: over 9p, the host's /proc and /sys look like mount
# points too (another device), so `mountpoint` cannot tell.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
read -r uptime_s _ < /proc/uptime
setup_started=$(now_ms)
# The host shows the console from this line on (the boot messages stay in console.log).
say "guest kernel up after ${uptime_s} s"

# The guest's own /run (so /run/netns is its own) and /tmp (so its temporary
# files never meet the host's). The checkout and run directory stay reachable
# when they live under /tmp: bind them back from the host's /tmp.
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/netns /run/lock /run/home /run/lab-bin /run/host-tmp
mount --bind /tmp /run/host-tmp
mount -t tmpfs -o mode=1777 tmpfs /tmp
for dir in "$REPO" "$RUN"; do
  case "$dir" in
    /tmp/*) mkdir -p "$dir" && mount --bind "/run/host-tmp/${dir#/tmp/}" "$dir" || say "cannot reach $dir" ;;
  esac
done
mkdir -p /dev/pts /dev/shm
mountpoint -q /dev/pts || mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm

# cgroup v2, with the controllers dummynet limits enabled for child groups.
if mount -t cgroup2 cgroup2 /sys/fs/cgroup; then
  echo "+cpu +memory +pids" > /sys/fs/cgroup/cgroup.subtree_control || say "cannot enable cgroup v2 controllers"
else
  say "cannot mount cgroup2"
fi

# One modprobe for all: it loads every module it finds and names those it cannot.
MODULES="veth bridge 8021q dummy sch_netem sch_htb sch_tbf sch_ingress sch_prio ifb act_mirred act_gact cls_u32 cls_matchall cls_fw ip_tables iptable_nat iptable_filter xt_MASQUERADE"
modprobe -a $MODULES 2>&1 | sed 's/^/[lab] /'
for module in $MODULES; do
  [ -d "/sys/module/$module" ] || say "module $module is not loaded"
done

# iptables: the guest kernel has only the legacy backend. Make every way of
# calling iptables in the guest reach it, without touching the host's
# alternatives: a PATH directory first, and a bind over the nft binary (both
# exist only in the guest's mount table).
if [ -x /usr/sbin/xtables-legacy-multi ]; then
  for name in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
    ln -s /usr/sbin/xtables-legacy-multi "/run/lab-bin/$name"
  done
  [ -e /usr/sbin/xtables-nft-multi ] && mount --bind /usr/sbin/xtables-legacy-multi /usr/sbin/xtables-nft-multi
fi
export PATH="/run/lab-bin:$PATH"
export HOME=/run/home
unset TMPDIR

ip link set lo up

setup_done=$(now_ms)
{
  echo "kernel_boot_s=$uptime_s"
  echo "kernel_release=$(uname -r)"
  echo "kernel_version=$(cat /proc/version)"
  echo "setup_ms=$((setup_done - setup_started))"
} > "$RUN/guest-timings"

cd "$REPO" || { say "cannot enter $REPO"; halt_now; }
DUMMYNET_LAB_T0="$setup_done" node scripts/lab/guest-run.mjs
echo "$?" > "$RUN/runner-exit"
halt_now
