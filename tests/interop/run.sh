#!/bin/sh
# run.sh - interop test: the npm package bittorrent-tracker (a third-party
# BEP 15 client) announces to build/ringtracker over UDP on loopback.
# Skips, saying why, when node/npm or the npm registry is unavailable.
# Usage: tests/interop/run.sh [SERVER_BINARY]
set -eu
cd "$(dirname "$0")/../.."
bin=${1:-build/ringtracker}
dir=build/interop

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "interop: node or npm not found; SKIPPED"
	exit 0
fi
mkdir -p "$dir"
cp tests/interop/package.json tests/interop/peer.mjs "$dir/"
if [ ! -d "$dir/node_modules/bittorrent-tracker" ]; then
	# --ignore-scripts: the optional WebRTC module needs a native build we do not use.
	if ! (cd "$dir" && npm install --ignore-scripts --no-audit --no-fund >npm.log 2>&1); then
		echo "interop: npm install failed (see $dir/npm.log); SKIPPED"
		exit 0
	fi
fi

log="$dir/server.log"
# Ephemeral metrics port: never the default 9469 a running tracker may hold.
"$bin" --udp 127.0.0.1:0 --http= --metrics 127.0.0.1:0 --workers 2 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
i=0
while ! grep -q " ready" "$log"; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 $pid 2>/dev/null; then
		echo "interop: FAIL: server did not start"; cat "$log"; exit 1
	fi
	sleep 0.1
done
addr=$(sed -n 's/.*udp: listening on \([0-9.]*:[0-9]*\).*/\1/p' "$log" | head -1)
node "$dir/peer.mjs" "udp://$addr"
