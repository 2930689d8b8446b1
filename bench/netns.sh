# shellcheck shell=bash
# netns.sh - sourced by the bench scripts: a server and a client network
# namespace joined by a veth pair, so that a benchmark crosses a network
# device instead of loopback.
#
# netns_up TAG        creates $TAG-s and $TAG-c; sets NS_S NS_C (namespace
#                     names), VA (server end) VB (client end), SRV_IP CLI_IP
#                     (a /30 picked from the shell's PID).
# netns_steer S C     sends what arrives at the server end to CPU S and what
#                     arrives at the client end to CPU C (RPS), so that each
#                     core does its own side's receive work, as on two hosts;
#                     without it the kernel handles a packet on the core that
#                     sent it. In the client namespace it also widens the
#                     ephemeral port range and lets a connect reuse a
#                     TIME_WAIT port (tcp_tw_reuse=1): one generator stands
#                     for many client hosts.
# netns_down          deletes both namespaces (and the veth pair with them).
#
# Needs root and iproute2. Nothing outside the two namespaces is changed.

netns_up() {
	local tag=$1
	NS_S=$tag-s
	NS_C=$tag-c
	VA=${tag}a
	VB=${tag}b
	local net="10.$((100 + ($$ >> 6) % 150)).$((($$ & 63) * 4)).0"
	SRV_IP=${net%.0}.1
	CLI_IP=${net%.0}.2
	ip netns add "$NS_S"
	ip netns add "$NS_C"
	ip link add "$VA" type veth peer name "$VB"
	ip link set "$VA" netns "$NS_S"
	ip link set "$VB" netns "$NS_C"
	ip -n "$NS_S" link set lo up
	ip -n "$NS_C" link set lo up
	ip -n "$NS_S" addr add "$SRV_IP/30" dev "$VA"
	ip -n "$NS_C" addr add "$CLI_IP/30" dev "$VB"
	ip -n "$NS_S" link set "$VA" up
	ip -n "$NS_C" link set "$VB" up
}

netns_steer() {
	local server_mask client_mask
	server_mask=$(printf '%x' $((1 << $1)))
	client_mask=$(printf '%x' $((1 << $2)))
	# sysfs shows the devices of the namespace it is mounted in.
	ip netns exec "$NS_S" sh -c "echo $server_mask >/sys/class/net/$VA/queues/rx-0/rps_cpus"
	ip netns exec "$NS_C" sh -c "echo $client_mask >/sys/class/net/$VB/queues/rx-0/rps_cpus"
	ip netns exec "$NS_C" sysctl -q -w net.ipv4.ip_local_port_range="1024 65535" \
		net.ipv4.tcp_tw_reuse=1 >/dev/null
}

netns_down() {
	[ -n "${NS_S:-}" ] || return 0
	ip link del "$VA" >/dev/null 2>&1 || true # only if still in our namespace
	ip netns del "$NS_S" >/dev/null 2>&1 || true
	ip netns del "$NS_C" >/dev/null 2>&1 || true
}
