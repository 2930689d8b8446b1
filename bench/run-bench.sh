#!/bin/bash
# run-bench.sh - `make bench`: ringtracker side by side with Debian's
# opentracker and the stateless ceiling responder, on this machine, in one run.
#
# Each server runs pinned to SERVER_CPU, the load generator to LOAD_CPU (on a
# 2-core machine: server on CPU 1, load on CPU 0). Every case is repeated RUNS
# times; bench/summarize.py reports medians and min-max, the ratios
# ringtracker/opentracker and ringtracker/ceiling, writes
# bench/results/<time>.json (and latest.json) and plots latest.png with
# gnuplot. Every run stops by itself. The ceiling runs twice per run, with
# recvmmsg/sendmmsg and with io_uring; the mode with the higher median counts.
#
# Two network paths. Plain case names run on loopback. Names ending in -veth
# run the server in a network namespace and the load generator in another,
# joined by a veth pair whose two ends steer received packets (RPS) to their
# own side's CPU (bench/netns.sh): on loopback the kernel handles a packet on
# the core that sent it, so the server's TCP handshakes and request receives
# run on the load generator's core; over the steered veth pair each core does
# its own side's work, as two hosts would.
#
# Knobs (environment): RUNS DURATION WARMUP TORRENTS PEERS WINDOW CONNECTIONS
# SERVER_CPU LOAD_CPU CASES (space-separated subset of: udp http-keepalive
# http-close udp-veth http-keepalive-veth http-close-veth memory).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/netns.sh
. bench/netns.sh

RUNS=${RUNS:-5}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
TORRENTS=${TORRENTS:-1000000}
PEERS=${PEERS:-2000000}
WINDOW=${WINDOW:-256}
CONNECTIONS=${CONNECTIONS:-256}
SERVER_CPU=${SERVER_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
CASES=${CASES:-"udp http-keepalive http-close udp-veth http-keepalive-veth http-close-veth memory"}
PORT=${PORT:-16969}
OUT=build/bench
LOAD=build/ringtracker-load

die() { echo "bench: $*" >&2; exit 1; }

need_packages() {
	local missing=""
	for p in opentracker gnuplot-nox python3; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return
	[ "$(id -u)" = 0 ] || die "missing packages:$missing (run as root, or apt-get install$missing)"
	echo "bench: installing$missing"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null
}

# The network path of the next runs: sets ADDR (the server's address), IN_S
# and IN_C (command prefixes that run in the server's and in the load
# generator's namespace; empty on loopback) and REMOTE (the load generator's
# flag for a non-loopback target). $1 = loopback or veth.
use_path() {
	if [ "$1" = veth ]; then
		if [ -z "${NS_S:-}" ]; then
			netns_up "rtb$$"
			netns_steer "$SERVER_CPU" "$LOAD_CPU"
		fi
		ADDR=$SRV_IP
		IN_S=(ip netns exec "$NS_S")
		IN_C=(ip netns exec "$NS_C")
		REMOTE=(--allow-remote-target)
	else
		ADDR=127.0.0.1
		IN_S=()
		IN_C=()
		REMOTE=()
	fi
}

# Starts a server on CPU SERVER_CPU; sets SERVER_PID. $1 = name.
start_server() {
	local name=$1
	case $name in
	ringtracker)
		"${IN_S[@]}" taskset -c "$SERVER_CPU" build/ringtracker --udp "$ADDR:$PORT" \
			--http "$ADDR:$PORT" --workers 1 --cpus "$SERVER_CPU" \
			--metrics 127.0.0.1:$((PORT + 1)) 2>"$OUT/$name.log" &
		;;
	opentracker)
		# Debian's build tracks only whitelisted hashes and is IPv4-only.
		"${IN_S[@]}" taskset -c "$SERVER_CPU" opentracker -i "$ADDR" -p $PORT -P $PORT \
			-w "$PWD/$OUT/whitelist.txt" >"$OUT/$name.log" 2>&1 &
		;;
	ceiling-mmsg | ceiling-uring)
		"${IN_S[@]}" taskset -c "$SERVER_CPU" build/ringtracker-ceiling --udp "$ADDR:$PORT" \
			--workers 1 --cpus "$SERVER_CPU" --io "${name#ceiling-}" >"$OUT/$name.log" 2>&1 &
		;;
	esac
	SERVER_PID=$! # ip netns exec and taskset exec the server: this is its PID
	for _ in $(seq 100); do
		[ -n "$("${IN_S[@]}" ss -Hlun "sport = :$PORT" 2>/dev/null)" ] && return
		kill -0 "$SERVER_PID" 2>/dev/null || die "$name did not start: $(tail -3 "$OUT/$name.log")"
		sleep 0.1
	done
	die "$name not listening on port $PORT"
}

stop_server() {
	kill "$SERVER_PID" 2>/dev/null || true
	wait "$SERVER_PID" 2>/dev/null || true
}

# Resident memory of the server, in bytes.
server_rss() {
	awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$SERVER_PID/status"
}

# One load run against the running server; prints its JSON. $@ = extra flags.
load_run() {
	"${IN_C[@]}" taskset -c "$LOAD_CPU" "$LOAD" --cpus "$LOAD_CPU" --torrents "$TORRENTS" \
		--peers "$PEERS" --window "$WINDOW" --connections "$CONNECTIONS" --warmup "$WARMUP" \
		--duration "$DURATION" --quiet --json "${REMOTE[@]}" "$@"
}

# case server run -> one JSON line in results.jsonl
record() {
	local case=$1 server=$2 run=$3 json=$4 rss=${5:-0} io=${6:-}
	printf '{"case":"%s","server":"%s","run":%d,"rss_bytes":%s,"io":"%s","load":%s}\n' \
		"$case" "$server" "$run" "$rss" "$io" "$json" >>"$OUT/results.jsonl"
}

# The ceiling runs in both I/O modes: which one is cheaper depends on the
# host (recvmmsg/sendmmsg pays two kernel entries per batch, io_uring one per
# loop turn, which wins where entries are dear). Both are recorded, as
# ceiling-mmsg and ceiling-uring; summarize.py compares against the mode
# with the higher median.
run_ceiling() {
	local case=$1 run=$2 io json
	for io in mmsg uring; do
		start_server "ceiling-$io"
		json=$(load_run --udp "$ADDR:$PORT")
		stop_server
		record "$case" "ceiling-$io" "$run" "$json" 0 "$io"
		echo "bench: $case ceiling --io $io run $run/$RUNS done"
	done
}

run_case() {
	local case=$1
	shift
	local servers=("$@")
	if [[ $case == *-veth ]]; then use_path veth; else use_path loopback; fi
	for run in $(seq "$RUNS"); do
		for server in "${servers[@]}"; do
			if [ "$server" = ceiling ]; then
				run_ceiling "$case" "$run"
				continue
			fi
			start_server "$server"
			case ${case%-veth} in
			udp) json=$(load_run --udp "$ADDR:$PORT") ;;
			http-keepalive) json=$(load_run --http "$ADDR:$PORT") ;;
			http-close) json=$(load_run --http "$ADDR:$PORT" --http-close) ;;
			esac
			record "$case" "$server" "$run" "$json" "$(server_rss)"
			stop_server
			echo "bench: $case $server run $run/$RUNS done"
		done
	done
}

# Memory: the same population announced to each tracker, then its RSS.
run_memory() {
	use_path loopback
	for server in ringtracker opentracker; do
		start_server "$server"
		json=$(load_run --udp "$ADDR:$PORT" --populate)
		sleep 2 # gauges on /metrics refresh once a second
		rss=$(server_rss)
		metrics=""
		if [ "$server" = ringtracker ]; then
			metrics=$(curl -s "http://127.0.0.1:$((PORT + 1))/metrics" || true)
		fi
		printf '%s' "$metrics" >"$OUT/memory-$server.metrics"
		record memory "$server" 1 "$json" "$rss"
		stop_server
		echo "bench: memory $server done"
	done
}

main() {
	need_packages
	[ "$(id -u)" = 0 ] || [[ " $CASES " != *-veth* ]] || die "the -veth cases need root (network namespaces)"
	trap netns_down EXIT
	make -s all >/dev/null
	[ -x "$LOAD" ] || die "$LOAD missing (make)"
	mkdir -p "$OUT" bench/results
	: >"$OUT/results.jsonl"
	local started
	started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	"$LOAD" --dump-hashes "$TORRENTS" >"$OUT/whitelist.txt"
	for c in $CASES; do
		case $c in
		udp | udp-veth) run_case "$c" ringtracker opentracker ceiling ;;
		http-keepalive | http-close | http-keepalive-veth | http-close-veth)
			run_case "$c" ringtracker opentracker
			;;
		memory) run_memory ;;
		*) die "unknown case $c" ;;
		esac
	done
	python3 bench/summarize.py "$OUT/results.jsonl" bench/results \
		--machine "$(nproc) CPUs, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)" \
		--command "make bench (RUNS=$RUNS DURATION=$DURATION TORRENTS=$TORRENTS PEERS=$PEERS WINDOW=$WINDOW CONNECTIONS=$CONNECTIONS)" \
		--started "$started"
}

main "$@"
