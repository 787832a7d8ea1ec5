#!/usr/bin/env bash
# Benchmark: distributed mode throughput with 1, 2 and 3 prober workers, and the scheduler's CPU
# cost per dispatched check, side by side in one run on the same testbed.
#
#   bench/distributed.sh [--domains N] [--mx-hosts M] [--net 127.N]
#
# For each worker count: a fresh Redis, one scheduler (every domain due within a second:
# --startup-spread 1s) and the workers; the time until every domain has been checked once (from
# the check history, stswatch:checks) gives checks per second; the scheduler's user + system time
# (/proc/PID/stat) divided by the checks gives its dispatch cost.
set -euo pipefail
cd "$(dirname "$0")/.."
domains=2000
mx_hosts=60
net=127.62
while [ $# -gt 0 ]; do
  case "$1" in
    --domains) domains="$2"; shift 2 ;;
    --mx-hosts) mx_hosts="$2"; shift 2 ;;
    --net) net="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

scripts/setup
bazel build -c opt //cli:stswatch >/dev/null 2>&1
stswatch="$(bazel info -c opt bazel-bin 2>/dev/null)/cli/stswatch"

work=$(mktemp -d /tmp/stswatch-bench-XXXXXX)
chmod 755 "$work"
pids=()
stop_all() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
  redis-cli -s "$work/redis/redis.sock" shutdown nosave >/dev/null 2>&1 || true
}
cleanup() { stop_all; testbed/testbed stop --dir "$work/tb" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

testbed/testbed generate --domains "$domains" --mx-hosts "$mx_hosts" >"$work/scenario.yaml"
grep -o 'name: d[0-9]*\.bench\.test' "$work/scenario.yaml" | cut -d' ' -f2 >"$work/domains.txt"
testbed/testbed start "$work/scenario.yaml" --net "$net" --dir "$work/tb" --replace >/dev/null

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "$domains domains over $mx_hosts MX hosts; testbed, Redis, scheduler and workers share the cores"
printf '%-8s %12s %14s %22s\n' workers seconds checks/s "scheduler CPU/check"
for workers in 1 2 3; do
  mkdir -p "$work/redis"
  redis-server --port 0 --unixsocket "$work/redis/redis.sock" --dir "$work/redis" --save "" \
    --appendonly no --daemonize yes --logfile "$work/redis/log" >/dev/null
  until redis-cli -s "$work/redis/redis.sock" ping >/dev/null 2>&1; do sleep 0.1; done
  url="unix://$work/redis/redis.sock"
  for i in $(seq 1 "$workers"); do
    "$stswatch" prober --scheduler "$net.200.1:7411" --redis "$url" --id "w$i" --capacity 128 \
      --resolver "$net.0.1:53" --ca-file "$work/tb/ca/root.pem" --allow-private \
      --allow-net "$net.0.0/16" 2>>"$work/workers.log" &
    pids+=($!)
  done
  started=$(date +%s.%N)
  "$stswatch" scheduler --redis "$url" --listen "$net.200.1:7411" --domains "$work/domains.txt" \
    --interval 1h --startup-spread 1s 2>>"$work/scheduler.log" &
  scheduler=$!
  pids+=($scheduler)
  until [ "$(redis-cli -s "$work/redis/redis.sock" XLEN stswatch:checks)" -ge "$domains" ]; do
    sleep 0.2
  done
  ended=$(date +%s.%N)
  ticks=$(cpu_ticks "$scheduler")
  awk -v w="$workers" -v a="$started" -v b="$ended" -v n="$domains" -v t="$ticks" -v hz="$hz" \
    'BEGIN { s = b - a; printf "%-8d %12.1f %14.0f %19.3f ms\n", w, s, n / s, t / hz * 1000 / n }'
  stop_all
  rm -rf "$work/redis"
done
