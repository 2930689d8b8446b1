#!/bin/bash
# xdp-flood.sh - a junk flood against ringtracker with and without the XDP
# prefilter (bench/README.md, "Junk flood with and without the XDP prefilter").
#
# Two network namespaces (rtf<pid>-s, rtf<pid>-c) joined by a veth pair
# (rtf<pid>a in the server namespace, rtf<pid>b in the client one) with
# 10.X.Y.1/30 and 10.X.Y.2/30, X.Y derived from the PID. The tracker runs in the
# server namespace pinned to SERVER_CPU (`--workers 1 --cpus SERVER_CPU
# --http=`, /metrics on the namespace's own 127.0.0.1). In the client
# namespace, pinned to CLIENT_CPU, ringtracker-load sends a modest valid load
# (--window WINDOW) while ringtracker-flood sends malformed BEP 15 datagrams as
# fast as it can for DURATION seconds. Modes (MODES, in order):
#   baseline  no prefilter, no flood: the valid load alone
#   plain     no prefilter, flood
#   xdp       --xdp <veth> --xdp-mode native --xdp-required, flood
# Every mode gets a fresh tracker. Measured over the flood window: junk sent/s,
# datagrams that reached user space and the tracker's malformed counters (from
# /metrics), the tracker's CPU (utime+stime from /proc/PID/stat), per-CPU busy
# time (/proc/stat), UDP receive-buffer drops in the server namespace
# (/proc/net/snmp), the valid responses/s and losses, and with the prefilter its
# counters (ringtracker_xdp_packets_total). Prints a table and writes
# bench/results/xdp-flood-latest.json.
#
# Needs root (namespaces, XDP). Everything it creates - namespaces, veths,
# processes - is removed by the EXIT trap, also on failure or Ctrl-C; it kills
# only the PIDs it started. Every wait is bounded.
#
# Knobs (environment): DURATION (10) WARMUP (2) WINDOW (16) TORRENTS (100000)
# PEERS (200000) SERVER_CPU (1) CLIENT_CPU (0) FLOOD_PPS (0 = as fast as
# possible) FLOOD_SOCKETS (8) FLOOD_BATCH (64) XDP_MODE (native) PORT (6969)
# MODES ("baseline plain xdp") OUT (bench/results/xdp-flood-latest.json)
# IDLE_MAX (5) IDLE_WAIT (120): before each mode wait up to IDLE_WAIT s until
# the machine is at most IDLE_MAX% busy (other tenants skew every figure); the
# JSON keeps that figure and the CPU that none of our processes account for
# during the window (other_cpu_pct, of one core; it includes ksoftirqd and
# softirqs that interrupt the idle task, so it is an upper bound on other
# tenants' use).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
WINDOW=${WINDOW:-16}
TORRENTS=${TORRENTS:-100000}
PEERS=${PEERS:-200000}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
FLOOD_PPS=${FLOOD_PPS:-0}
FLOOD_SOCKETS=${FLOOD_SOCKETS:-8}
FLOOD_BATCH=${FLOOD_BATCH:-64}
XDP_MODE=${XDP_MODE:-native}
PORT=${PORT:-6969}
MPORT=$((PORT + 1))
MODES=${MODES:-"baseline plain xdp"}
OUT=${OUT:-bench/results/xdp-flood-latest.json}
IDLE_MAX=${IDLE_MAX:-5}
IDLE_WAIT=${IDLE_WAIT:-120}

TRACKER=build/ringtracker
LOAD=build/ringtracker-load
FLOOD=build/ringtracker-flood

die() { echo "xdp-flood: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (network namespaces, XDP)"
command -v ip >/dev/null || die "ip (iproute2) not found"
command -v curl >/dev/null || die "curl not found"
command -v python3 >/dev/null || die "python3 not found"
command -v taskset >/dev/null || die "taskset not found"
[ -x "$TRACKER" ] && [ -x "$LOAD" ] || die "build first: make"
case "$DURATION" in '' | *[!0-9]*) die "DURATION must be whole seconds" ;; esac
[ "$DURATION" -ge 1 ] && [ "$DURATION" -le 120 ] || die "DURATION 1..120"
if [ ! -x "$FLOOD" ] || [ bench/flood.c -nt "$FLOOD" ]; then
	# Normally built by `make build/ringtracker-flood`; it needs nothing but libc.
	cc -std=gnu11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -o "$FLOOD" bench/flood.c ||
		die "cannot build $FLOOD"
fi

# shellcheck source=bench/netns.sh
. bench/netns.sh
TMP=$(mktemp -d /tmp/xdp-flood-XXXXXX)
PIDS=()

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 1 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
	done
	netns_down
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the two namespaces ---------------------------------------------------
netns_up "rtf$$" # sets NS_S NS_C VA VB SRV_IP CLI_IP

cpu_ticks() { # utime+stime of PID in clock ticks
	awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}
snap() { # snap PID NAME: metrics, process ticks, /proc/stat, snmp
	local pid=$1 name=$2
	ip netns exec "$NS_S" curl -s -m 2 "http://127.0.0.1:$MPORT/metrics" >"$TMP/$name.metrics" || true
	cpu_ticks "$pid" >"$TMP/$name.ticks"
	grep -E '^cpu[0-9]+ ' /proc/stat >"$TMP/$name.stat"
	ip netns exec "$NS_S" cat /proc/net/snmp >"$TMP/$name.snmp"
	date +%s.%N >"$TMP/$name.time"
}

busy_pct() { # busy share of all CPUs over one second, in percent
	local a b
	a=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat)
	sleep 1
	b=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat)
	echo "$a $b" | awk '{d = ($3 - $1) + ($4 - $2); print d ? int(100 * ($3 - $1) / d) : 0}'
}
wait_idle() { # wait_idle MODE: up to IDLE_WAIT s for other work to stop
	local mode=$1 p=100 i
	for i in $(seq 1 "$IDLE_WAIT"); do
		p=$(busy_pct)
		[ "$p" -le "$IDLE_MAX" ] && break
		[ "$i" = 1 ] && echo "xdp-flood: $mode: machine ${p}% busy, waiting (<= ${IDLE_WAIT}s)" >&2
	done
	echo "$p" >"$TMP/$mode.idle"
	[ "$p" -le "$IDLE_MAX" ] || echo "xdp-flood: $mode: still ${p}% busy; measuring anyway" >&2
}

run_mode() { # run_mode MODE
	local mode=$1 xdp_args=() flood=1
	case "$mode" in
	baseline) flood=0 ;;
	plain) ;;
	xdp) xdp_args=(--xdp "$VA" --xdp-mode "$XDP_MODE" --xdp-required) ;;
	*) die "unknown mode $mode" ;;
	esac
	wait_idle "$mode"
	echo "xdp-flood: $mode: tracker on $SRV_IP:$PORT in $NS_S (CPU $SERVER_CPU)" >&2
	ip netns exec "$NS_S" taskset -c "$SERVER_CPU" "$TRACKER" --udp "$SRV_IP:$PORT" --http= \
		--metrics "127.0.0.1:$MPORT" --workers 1 --cpus "$SERVER_CPU" "${xdp_args[@]}" \
		>"$TMP/$mode.log" 2>&1 &
	local spid=$!
	PIDS+=("$spid")
	local up=0
	for _ in $(seq 1 50); do
		kill -0 "$spid" 2>/dev/null || break
		if ip netns exec "$NS_S" curl -s -m 1 "http://127.0.0.1:$MPORT/metrics" 2>/dev/null |
			grep -q '^ringtracker_xdp_attached'; then
			up=1
			break
		fi
		sleep 0.1
	done
	[ "$up" = 1 ] || { cat "$TMP/$mode.log" >&2; die "$mode: the tracker did not come up"; }

	ip netns exec "$NS_C" "$LOAD" --allow-remote-target --udp "$SRV_IP:$PORT" \
		--cpus "$CLIENT_CPU" --window "$WINDOW" --warmup "$WARMUP" --duration "$DURATION" \
		--torrents "$TORRENTS" --peers "$PEERS" --json --quiet \
		>"$TMP/$mode.load.json" 2>"$TMP/$mode.load.err" &
	local lpid=$!
	PIDS+=("$lpid")
	sleep "$WARMUP"
	snap "$spid" "$mode.before"
	if [ "$flood" = 1 ]; then
		ip netns exec "$NS_C" taskset -c "$CLIENT_CPU" "$FLOOD" --allow-remote-target \
			--udp "$SRV_IP:$PORT" --duration "$DURATION" --pps "$FLOOD_PPS" \
			--sockets "$FLOOD_SOCKETS" --batch "$FLOOD_BATCH" \
			>"$TMP/$mode.flood.json" 2>"$TMP/$mode.flood.err" || true
	else
		echo '{}' >"$TMP/$mode.flood.json"
		sleep "$DURATION"
	fi
	snap "$spid" "$mode.after"
	# the load ends by itself (measured phase + its --timeout-ms drain)
	for _ in $(seq 1 100); do kill -0 "$lpid" 2>/dev/null || break; sleep 0.1; done
	wait "$lpid" 2>/dev/null || echo "xdp-flood: $mode: load exit status $?" >&2
	kill -TERM "$spid" 2>/dev/null || true
	for _ in $(seq 1 50); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$spid" 2>/dev/null || true
	wait "$spid" 2>/dev/null || true
	PIDS=()
}

for m in $MODES; do
	run_mode "$m"
done

MACHINE="$(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), \
$(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r)"
COMMAND="bench/xdp-flood.sh (DURATION=$DURATION WINDOW=$WINDOW TORRENTS=$TORRENTS PEERS=$PEERS \
FLOOD_PPS=$FLOOD_PPS FLOOD_SOCKETS=$FLOOD_SOCKETS FLOOD_BATCH=$FLOOD_BATCH XDP_MODE=$XDP_MODE)"
mkdir -p "$(dirname "$OUT")"
python3 - "$TMP" "$OUT" "$MACHINE" "$COMMAND" "$(getconf CLK_TCK)" $MODES <<'EOF'
import json, re, sys, time
tmp, out, machine, command, hz = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
modes = sys.argv[6:]

def metrics(path):
    d = {}
    try:
        for line in open(path):
            if line.startswith('#') or not line.strip():
                continue
            k, _, v = line.rpartition(' ')
            try:
                d[k] = float(v)
            except ValueError:
                pass
    except OSError:
        pass
    return d

def snmp(path):
    lines = [l.split() for l in open(path) if l.startswith('Udp:')]
    return dict(zip(lines[0][1:], map(int, lines[1][1:])))

def cpustat(path):
    r = {}
    for l in open(path):
        f = l.split()
        v = list(map(int, f[1:]))
        idle = v[3] + v[4]
        r[f[0]] = (sum(v[:8]), idle, v[5] + v[6], v[7])  # total, idle, irq+softirq, steal
    return r

def jload(path):
    try:
        return json.load(open(path))
    except (OSError, ValueError):
        return {}

res = {}
for m in modes:
    b, a = f'{tmp}/{m}.before', f'{tmp}/{m}.after'
    mb, ma = metrics(b + '.metrics'), metrics(a + '.metrics')
    delta = lambda k: ma.get(k, 0) - mb.get(k, 0)
    secs = float(open(a + '.time').read()) - float(open(b + '.time').read())
    ticks = int(open(a + '.ticks').read()) - int(open(b + '.ticks').read())
    sb, sa = snmp(b + '.snmp'), snmp(a + '.snmp')
    cb, ca = cpustat(b + '.stat'), cpustat(a + '.stat')
    cpus = {}
    for c in sorted(ca):
        tot = ca[c][0] - cb[c][0]
        busy = tot - (ca[c][1] - cb[c][1])
        si = ca[c][2] - cb[c][2]
        cpus[c] = {'busy_pct': round(100.0 * busy / tot, 1) if tot else 0.0,
                   'irq_softirq_pct': round(100.0 * si / tot, 1) if tot else 0.0,
                   'steal_pct': round(100.0 * (ca[c][3] - cb[c][3]) / tot, 1) if tot else 0.0}
    malformed = {re.search(r'reason="([^"]+)"', k).group(1): int(delta(k))
                 for k in ma if k.startswith('ringtracker_malformed_requests_total{protocol="udp"')}
    xdp = {}
    for k in ma:
        if k.startswith('ringtracker_xdp_packets_total{'):
            v = re.search(r'verdict="([^"]+)"', k).group(1)
            r = re.search(r'reason="([^"]+)"', k).group(1)
            xdp[f'{v}/{r}'] = int(delta(k))
    fl = jload(f'{tmp}/{m}.flood.json')
    ld = jload(f'{tmp}/{m}.load.json')
    lc = ld.get('counters', {})
    log = open(f'{tmp}/{m}.log').read()
    # This kernel has no IRQ_TIME_ACCOUNTING: softirq ticks are charged to the
    # task they interrupt, so they are part of the processes' times as well.
    busy_s = sum((ca[c][0] - cb[c][0]) - (ca[c][1] - cb[c][1]) for c in ca) / hz
    ours_s = ticks / hz + sum((ld.get('cpu') or {}).get(k, 0) for k in ('user_s', 'sys_s')) \
        + fl.get('cpu_user_s', 0) + fl.get('cpu_sys_s', 0)
    res[m] = {
        'window_s': round(secs, 3),
        'machine_busy_pct_before': int(open(f'{tmp}/{m}.idle').read()),
        'other_cpu_pct': round(100.0 * max(0.0, busy_s - ours_s) / secs, 1),
        'flood': fl,
        'junk_sent_per_s': fl.get('sent_per_s', 0),
        'user_space': {
            'udp_received_datagrams': int(delta('ringtracker_udp_received_datagrams_total')),
            'udp_received_per_s': round(delta('ringtracker_udp_received_datagrams_total') / secs),
            'udp_sent_datagrams': int(delta('ringtracker_udp_sent_datagrams_total')),
            'malformed': malformed,
            'malformed_total': sum(malformed.values()),
            'error_replies_malformed': int(delta('ringtracker_error_replies_total{protocol="udp",reason="malformed"}')),
            'unverified_dropped': int(delta('ringtracker_udp_unverified_dropped_total')),
            'recv_rearms': int(delta('ringtracker_recv_rearms_total')),
        },
        'server_namespace_udp': {k: sa.get(k, 0) - sb.get(k, 0)
                                 for k in ('InDatagrams', 'InErrors', 'RcvbufErrors', 'NoPorts')},
        'tracker_cpu_s': round(ticks / hz, 2),
        'tracker_cpu_pct': round(100.0 * ticks / hz / secs, 1),
        'tracker_cpu_us_per_datagram': round(1e6 * ticks / hz / delta('ringtracker_udp_received_datagrams_total'), 2)
                                       if delta('ringtracker_udp_received_datagrams_total') else None,
        'cpus': cpus,
        'xdp_attached': int(ma.get('ringtracker_xdp_attached', 0)),
        'xdp_packets': xdp,
        'xdp_dropped_total': sum(v for k, v in xdp.items() if k.startswith('drop/')),
        'valid': {
            'responses_per_s': (ld.get('responses_per_s') or {}).get('total'),
            'lost': lc.get('lost'), 'late': lc.get('late'), 'errors': lc.get('errors'),
            'malformed': lc.get('malformed'),
            'latency_us': ld.get('latency_us'),
            'generator_cpu_pct': (ld.get('cpu') or {}).get('percent'),
        },
        'tracker_exit_log': [l for l in log.splitlines() if 'counters' in l or 'xdp' in l],
    }

doc = {'time_utc': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()), 'machine': machine,
       'command': command, 'modes': res}
with open(out, 'w') as f:
    json.dump(doc, f, indent=1)
    f.write('\n')

def fmt(v):
    if v is None:
        return '-'
    if isinstance(v, float):
        v = round(v)
    return f'{v:,}'

hdr = ['mode', 'junk sent/s', 'to user space/s', 'malformed seen', 'xdp dropped',
       'rcvbuf drops', 'tracker CPU', f'cpu0 / cpu1 busy', 'valid ok/s', 'lost', 'p99 us', 'others CPU']
rows = []
for m, r in res.items():
    v, u = r['valid'], r['user_space']
    rows.append([m, fmt(r['junk_sent_per_s']), fmt(u['udp_received_per_s']), fmt(u['malformed_total']),
                 fmt(r['xdp_dropped_total']) if r['xdp_attached'] else '-',
                 fmt(r['server_namespace_udp']['RcvbufErrors']),
                 f"{r['tracker_cpu_pct']}%",
                 f"{r['cpus'].get('cpu0', {}).get('busy_pct', '-')}% / {r['cpus'].get('cpu1', {}).get('busy_pct', '-')}%",
                 fmt(v['responses_per_s']), fmt(v['lost']),
                 fmt((v['latency_us'] or {}).get('p99')), f"{r['other_cpu_pct']}%"])
print(f'machine: {machine}\ncommand: {command}\n')
print('| ' + ' | '.join(hdr) + ' |')
print('|' + '---|' * len(hdr))
for row in rows:
    print('| ' + ' | '.join(row) + ' |')
for m, r in res.items():
    print(f"\n{m}: flood {json.dumps(r['flood'].get('by_kind', {}))}; malformed {json.dumps(r['user_space']['malformed'])}; "
          f"error replies {r['user_space']['error_replies_malformed']}; recv re-arms {r['user_space']['recv_rearms']}; "
          f"tracker {r['tracker_cpu_us_per_datagram']} us CPU per datagram; cpus {json.dumps(r['cpus'])}")
    if r['xdp_packets']:
        print(f"{m}: xdp {json.dumps({k: v for k, v in r['xdp_packets'].items() if v})}")
print(f'\nwrote {out}')
EOF
