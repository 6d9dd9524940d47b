# Sourced by tests that need several hosts: each host a network namespace
# of the test's own with one address, all on one bridge. The bridge lives
# in a namespace of its own too, so that the machine's firewall (a FORWARD
# policy, br_netfilter) never sees the traffic; the test's own namespace
# joins it as the address .1. Needs root and iproute2. Defines:
#   make_network          the switch, and .1 for this namespace
#   add_host NAME N       a host at $NET.N, interface eth0 (HOST_IP[NAME]),
#                         in the namespace HOST_NS[NAME]
#   on NAME COMMAND...    runs COMMAND on host NAME (for a background process
#                         whose $! must be its own pid, run
#                         `ip netns exec "${HOST_NS[NAME]}" COMMAND &` instead)
#   cut_host / heal_host  takes a host's link down / up (a lost machine)
#   cut_route NAME IP / heal_route NAME IP   drops NAME's packets to IP
#   remove_network        removes it all (call it from the EXIT trap)
# Names carry this shell's pid, so that two runs never meet.
NET_TAG="at$$"
NET="10.$((200 + $$ % 50)).$(($$ / 50 % 250))"
declare -A HOST_IP HOST_NS
NET_HOSTS=()

make_network() {
  ip netns add "$NET_TAG-sw"
  ip -n "$NET_TAG-sw" link add br0 type bridge
  ip -n "$NET_TAG-sw" link set br0 up
  ip link add "$NET_TAG-up" type veth peer name self netns "$NET_TAG-sw"
  ip -n "$NET_TAG-sw" link set self master br0 up
  ip addr add "$NET.1/24" dev "$NET_TAG-up"
  ip link set "$NET_TAG-up" up
}
add_host() {  # add_host NAME N
  local ns="$NET_TAG-$1"
  ip netns add "$ns"
  ip -n "$NET_TAG-sw" link add "h$2" type veth peer name eth0 netns "$ns"
  ip -n "$NET_TAG-sw" link set "h$2" master br0 up
  ip -n "$ns" addr add "$NET.$2/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
  HOST_IP[$1]="$NET.$2"
  HOST_NS[$1]="$ns"
  NET_HOSTS+=("$1")
}
on() { local host="$1"; shift; ip netns exec "$NET_TAG-$host" "$@"; }
cut_host() { ip -n "$NET_TAG-$1" link set eth0 down; }
heal_host() {
  ip -n "$NET_TAG-$1" link set eth0 up
  ip -n "$NET_TAG-$1" route replace "$NET.0/24" dev eth0 2>/dev/null || true
}
# Packets from NAME to IP vanish (a one-way cut: TCP on either side stalls,
# as across a broken switch), and come back.
cut_route() { ip -n "$NET_TAG-$1" route add blackhole "$2/32"; }
heal_route() { ip -n "$NET_TAG-$1" route del blackhole "$2/32" 2>/dev/null || true; }
remove_network() {
  local host
  for host in "${NET_HOSTS[@]}"; do ip netns del "$NET_TAG-$host" 2>/dev/null || true; done
  ip link del "$NET_TAG-up" 2>/dev/null || true
  ip netns del "$NET_TAG-sw" 2>/dev/null || true
}
