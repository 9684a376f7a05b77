#!/usr/bin/env bash
# The floor for the topology benchmark: the same networks built with plain
# iproute2 as fast as we know how, so that our figures are ratios to it.
#
# Usage: ip-floor.sh {chain|star} N [born|moved]     (as root; prints one JSON line)
#   setup:    one `ip -batch` makes every namespace and every veth with both
#             ends born in their namespaces (and the star's bridge), then one
#             `ip -n NS -batch` per namespace sets addresses and brings links
#             up, 2 x nproc at a time;
#   "moved" makes each veth in the host namespace and moves both ends into
#             their namespaces, as the reference API's linkVethAdd + linkSet
#             do: the same kernel work as that call sequence, with no process
#             overhead;
#   teardown: one `ip -batch` deleting every namespace, then waiting until
#             `ip netns list` shows none of them (our teardown is verified the
#             same way).
# The timed regions fork only ip itself.
set -euo pipefail
kind=${1:?kind}; n=${2:?n}; placement=${3:-born}
prefix="fl$$"
parallel=$(( $(nproc) * 2 ))
trap 'ip netns list | awk -v p="$prefix-" "index(\$1, p) == 1 {print \$1}" | while read -r ns; do ip netns del "$ns" 2>/dev/null || true; done' EXIT

setup() {
  local i root="" cfg pids=() h
  for ((i = 0; i < n; i++)); do root+="netns add $prefix-n$i"$'\n'; done
  if [[ $kind == chain ]]; then
    for ((i = 0; i < n - 1; i++)); do
      if [[ $placement == moved ]]; then
        root+="link add c${i}a type veth peer name c${i}b"$'\n'"link set c${i}a netns $prefix-n$i"$'\n'"link set c${i}b netns $prefix-n$((i + 1))"$'\n'
      else
        root+="link add c${i}a netns $prefix-n$i type veth peer name c${i}b netns $prefix-n$((i + 1))"$'\n'
      fi
    done
  else
    root+="netns add $prefix-hub"$'\n'"link add br0 netns $prefix-hub type bridge"$'\n'
    for ((i = 0; i < n; i++)); do
      if [[ $placement == moved ]]; then
        root+="link add s$i type veth peer name h$i"$'\n'"link set s$i netns $prefix-n$i"$'\n'"link set h$i netns $prefix-hub"$'\n'
      else
        root+="link add s$i netns $prefix-n$i type veth peer name h$i netns $prefix-hub"$'\n'
      fi
    done
  fi
  ip -batch - <<<"$root"
  for ((i = 0; i < n; i++)); do
    cfg="link set lo up"$'\n'
    if [[ $kind == chain ]]; then
      ((i > 0)) && cfg+="addr add 10.$(((i - 1) / 256)).$(((i - 1) % 256)).2/24 dev c$((i - 1))b"$'\n'"link set c$((i - 1))b up"$'\n'
      ((i < n - 1)) && cfg+="addr add 10.$((i / 256)).$((i % 256)).1/24 dev c${i}a"$'\n'"link set c${i}a up"$'\n'
    else
      h=$((i + 1))
      cfg+="addr add 10.1.$((h / 256)).$((h % 256))/16 dev s$i"$'\n'"link set s$i up"$'\n'
    fi
    ip -n "$prefix-n$i" -batch - <<<"$cfg" &
    pids+=($!)
    if ((${#pids[@]} >= parallel)); then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
  done
  if [[ $kind == star ]]; then
    cfg="link set lo up"$'\n'"link set br0 up"$'\n'
    for ((i = 0; i < n; i++)); do cfg+="link set h$i master br0 up"$'\n'; done
    ip -n "$prefix-hub" -batch - <<<"$cfg" &
    pids+=($!)
  fi
  local p; for p in "${pids[@]}"; do wait "$p"; done
}

teardown() {
  local i cmds=""
  for ((i = 0; i < n; i++)); do cmds+="netns del $prefix-n$i"$'\n'; done
  [[ $kind == star ]] && cmds+="netns del $prefix-hub"$'\n'
  ip -batch - <<<"$cmds"
  while ip netns list | grep -q "^$prefix-"; do :; done
}

t0=$EPOCHREALTIME; setup; t1=$EPOCHREALTIME; teardown; t2=$EPOCHREALTIME
p=""; [[ $placement == moved ]] && p=" (moved links)"
awk -v p="$p" -v k="$kind" -v n="$n" -v a="$t0" -v b="$t1" -v c="$t2" \
  'BEGIN { printf "{\"impl\":\"ip-batch floor%s\",\"kind\":\"%s\",\"n\":%d,\"setupS\":%.4f,\"cleanupS\":%.4f}\n", p, k, n, b - a, c - b }'
