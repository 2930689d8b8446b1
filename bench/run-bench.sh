#!/bin/bash
# run-bench.sh - `make bench`: ringtracker side by side with Debian's
# opentracker and the stateless ceiling responder, on this machine, in one run.
#
# Each server runs pinned to SERVER_CPU, the load generator to LOAD_CPU (on a
# 2-core machine: server on CPU 1, load on CPU 0). Every case is repeated RUNS
# times; bench/summarize.py reports medians and min-max, the ratios
# ringtracker/opentracker and ringtracker/ceiling, writes
# bench/results/<time>.json (and latest.json) and plots latest.png with
# gnuplot. Everything runs on loopback, and every run stops by itself.
#
# Knobs (environment): RUNS DURATION WARMUP TORRENTS PEERS WINDOW THREADS
# SERVER_CPU LOAD_CPU CASES (space-separated subset of: udp http-keepalive
# http-close memory).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-5}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
TORRENTS=${TORRENTS:-1000000}
PEERS=${PEERS:-2000000}
WINDOW=${WINDOW:-256}
SERVER_CPU=${SERVER_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
CASES=${CASES:-"udp http-keepalive http-close memory"}
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

# Starts a server on CPU SERVER_CPU; sets SERVER_PID. $1 = name.
start_server() {
	local name=$1
	case $name in
	ringtracker)
		taskset -c "$SERVER_CPU" build/ringtracker --udp 127.0.0.1:$PORT --http 127.0.0.1:$PORT \
			--workers 1 --cpus "$SERVER_CPU" --metrics 127.0.0.1:$((PORT + 1)) \
			2>"$OUT/$name.log" &
		;;
	opentracker)
		# Debian's build tracks only whitelisted hashes and is IPv4-only.
		taskset -c "$SERVER_CPU" opentracker -i 127.0.0.1 -p $PORT -P $PORT \
			-w "$PWD/$OUT/whitelist.txt" >"$OUT/$name.log" 2>&1 &
		;;
	ceiling)
		taskset -c "$SERVER_CPU" build/ringtracker-ceiling --udp 127.0.0.1:$PORT \
			--workers 1 --cpus "$SERVER_CPU" >"$OUT/$name.log" 2>&1 &
		;;
	esac
	SERVER_PID=$!
	for _ in $(seq 100); do
		[ -n "$(ss -Hlun "sport = :$PORT" 2>/dev/null)" ] && return
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
	taskset -c "$LOAD_CPU" "$LOAD" --cpus "$LOAD_CPU" --torrents "$TORRENTS" --peers "$PEERS" \
		--window "$WINDOW" --warmup "$WARMUP" --duration "$DURATION" --quiet --json "$@"
}

# case server run -> one JSON line in results.jsonl
record() {
	local case=$1 server=$2 run=$3 json=$4 rss=${5:-0}
	printf '{"case":"%s","server":"%s","run":%d,"rss_bytes":%s,"load":%s}\n' \
		"$case" "$server" "$run" "$rss" "$json" >>"$OUT/results.jsonl"
}

run_case() {
	local case=$1
	shift
	local servers=("$@")
	for run in $(seq "$RUNS"); do
		for server in "${servers[@]}"; do
			start_server "$server"
			case $case in
			udp) json=$(load_run --udp 127.0.0.1:$PORT) ;;
			http-keepalive) json=$(load_run --http 127.0.0.1:$PORT) ;;
			http-close) json=$(load_run --http 127.0.0.1:$PORT --http-close) ;;
			esac
			record "$case" "$server" "$run" "$json" "$(server_rss)"
			stop_server
			echo "bench: $case $server run $run/$RUNS done"
		done
	done
}

# Memory: the same population announced to each tracker, then its RSS.
run_memory() {
	for server in ringtracker opentracker; do
		start_server "$server"
		json=$(load_run --udp 127.0.0.1:$PORT --populate)
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
	make -s all >/dev/null
	[ -x "$LOAD" ] || die "$LOAD missing (make)"
	mkdir -p "$OUT" bench/results
	: >"$OUT/results.jsonl"
	"$LOAD" --dump-hashes "$TORRENTS" >"$OUT/whitelist.txt"
	for c in $CASES; do
		case $c in
		udp) run_case udp ringtracker opentracker ceiling ;;
		http-keepalive) run_case http-keepalive ringtracker opentracker ;;
		http-close) run_case http-close ringtracker opentracker ;;
		memory) run_memory ;;
		*) die "unknown case $c" ;;
		esac
	done
	python3 bench/summarize.py "$OUT/results.jsonl" bench/results \
		--machine "$(nproc) CPUs, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)" \
		--command "make bench (RUNS=$RUNS DURATION=$DURATION TORRENTS=$TORRENTS PEERS=$PEERS WINDOW=$WINDOW)"
}

main "$@"
