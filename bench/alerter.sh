#!/usr/bin/env bash
# The alerter's consume path: how fast `stswatch alerter` turns a backlog of drift events into
# alerts and queued notifications, with one big tenant and with many small ones, side by side in
# one run.
#
#   bench/alerter.sh [--domains N] [--tenants-many M]
#
# For each layout: a fresh redis-server on a unix socket; N domains spread over the 64
# partitions, each watched by its tenant (one tenant for all, or M tenants); two events per
# domain in the events streams (the domain starts failing and an MX is not covered: one critical
# alert each). Tenants have no channels: this measures reading, the rules and the atomic
# commits, not the network. Then the optimised `stswatch alerter` runs until every event is
# acknowledged; reported: wall time, events per second, its CPU, its peak memory, Redis commands
# per event, and the open alerts stored.
set -euo pipefail
cd "$(dirname "$0")/.."

domains=20000
many=200
while [ $# -gt 0 ]; do
  case "$1" in
    --domains) domains="$2"; shift 2 ;;
    --tenants-many) many="$2"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "bench/alerter.sh: unknown option $1" >&2; exit 3 ;;
  esac
done

bazel build -c opt //cli:stswatch >/dev/null 2>&1 || bazel build -c opt //cli:stswatch
bin="$(bazel info -c opt bazel-bin 2>/dev/null)/cli/stswatch"
work=$(mktemp -d /tmp/stswatch-bench-alerter-XXXXXX)
trap 'rm -rf "$work"' EXIT

run() {
  local tenants="$1" dir="$work/t$1"
  mkdir -p "$dir"
  redis-server --port 0 --unixsocket "$dir/redis.sock" --dir "$dir" --save "" \
    --appendonly no --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
  for _ in $(seq 50); do [ -S "$dir/redis.sock" ] && break; sleep 0.1; done
  local cli=(redis-cli -s "$dir/redis.sock")
  python3 - "$domains" "$tenants" <<'EOF' | "${cli[@]}" --pipe >/dev/null
import json, sys
domains, tenants = int(sys.argv[1]), int(sys.argv[2])
out = sys.stdout.buffer
def cmd(*args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    out.write(b"".join(parts))
for i in range(domains):
    d = "d%06d.bench.test" % i
    p = i % 64
    tenant = "t-%016x" % (i % tenants)
    cmd("HSET", "stswatch:{p%d}:watch" % p, d, json.dumps({"interval_s": 0, "tenants": {tenant: 0}}))
    for n, (kind, subject, before, after) in enumerate((
            ("status_changed", "", "ok", "failing"),
            ("mx_not_covered", "mx9." + d, None, "mx9." + d))):
        eid = "%032x" % (i * 2 + n)
        event = {"id": eid, "domain": d, "kind": kind, "severity": "critical",
                 "subject": subject, "time": "2026-11-30T12:00:00.000Z", "before": before,
                 "after": after, "message": "bench event."}
        cmd("XADD", "stswatch:{p%d}:events" % p, "*", "id", eid, "domain", d, "kind", kind,
            "severity", "critical", "subject", subject, "event", json.dumps(event))
EOF
  "${cli[@]}" CONFIG RESETSTAT >/dev/null
  local start end pid
  start=$(date +%s.%N)
  "$bin" alerter --redis "unix://$dir/redis.sock" --alert-retry-initial 1h --alert-tick 1h \
    --log-level warning 2>"$dir/alerter.log" &
  pid=$!
  local expected=$((domains * 2))
  while :; do
    local acked=0 s
    for p in $(seq 0 63); do
      s=$("${cli[@]}" XINFO GROUPS "stswatch:{p$p}:events" 2>/dev/null |
        awk 'f{print; exit} /^entries-read$/{f=1}')
      acked=$((acked + ${s:-0}))
    done
    local pending
    pending=$("${cli[@]}" EVAL "local n=0 for p=0,63 do local r=redis.call('XPENDING','stswatch:{p'..p..'}:events','alerter') n=n+r[1] end return n" 0 2>/dev/null || echo 1)
    [ "$acked" -ge "$expected" ] && [ "$pending" = "0" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$dir/alerter.log"; exit 1; }
    sleep 0.2
  done
  end=$(date +%s.%N)
  local hwm ticks
  hwm=$(awk '/VmHWM/{print $2}' "/proc/$pid/status")
  ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local commands queued
  commands=$("${cli[@]}" INFO commandstats | awk -F'[:=,]' '/^cmdstat_/{n+=$3} END{print n}')
  queued=$("${cli[@]}" HVALS stswatch:alert:books | grep -o '"mx_not_covered:' | wc -l)
  "${cli[@]}" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
  python3 - "$tenants" "$domains" "$start" "$end" "$hwm" "$ticks" "$(getconf CLK_TCK)" \
    "$commands" "$queued" <<'EOF'
import sys
tenants, domains, start, end, hwm, ticks, hz, commands, queued = sys.argv[1:]
events = int(domains) * 2
wall = float(end) - float(start)
cpu = int(ticks) / int(hz)
print(f"| {tenants} tenant(s) | {events} events in {wall:.1f} s: {events / wall:.0f}/s | "
      f"{cpu / events * 1e3:.3f} ms | {int(hwm) / 1024:.0f} MiB | "
      f"{int(commands) / events:.2f} | {queued} |")
EOF
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "| layout | drained | alerter CPU per event | peak memory | Redis commands per event | open alerts stored |"
echo "|---|---|---|---|---|---|"
run 1
run "$many"
