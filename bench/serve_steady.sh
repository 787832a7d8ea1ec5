#!/usr/bin/env bash
# Benchmark: what a steady-state check costs `stswatch serve` in Redis commands (from Redis'
# own INFO commandstats) and in CPU, over a testbed of generated domains that never changes.
#
#   bench/serve_steady.sh [--domains N] [--mx-hosts M] [--interval SECONDS] [--net 127.N]
#
# serve runs with its own redis-server; after the first round of checks (every domain has a
# state) the Redis counters are reset, serve runs one more full interval, and the commands Redis
# executed are divided by the checks serve made in that time.
set -euo pipefail
cd "$(dirname "$0")/.."
domains=2000
mx_hosts=10
interval=60
net=127.61
while [ $# -gt 0 ]; do
  case "$1" in
    --domains) domains="$2"; shift 2 ;;
    --mx-hosts) mx_hosts="$2"; shift 2 ;;
    --interval) interval="$2"; shift 2 ;;
    --net) net="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

scripts/setup
bazel build -c opt //cli:stswatch >/dev/null 2>&1
stswatch="$(bazel info -c opt bazel-bin 2>/dev/null)/cli/stswatch"

work=$(mktemp -d /tmp/stswatch-bench-XXXXXX)
chmod 755 "$work"
serve_pid=
cleanup() {
  [ -n "$serve_pid" ] && kill -TERM "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  testbed/testbed stop --dir "$work/tb" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

testbed/testbed generate --domains "$domains" --mx-hosts "$mx_hosts" >"$work/scenario.yaml"
grep -o 'name: d[0-9]*\.bench\.test' "$work/scenario.yaml" | cut -d' ' -f2 >"$work/domains.txt"
testbed/testbed start "$work/scenario.yaml" --net "$net" --dir "$work/tb" --replace >/dev/null

"$stswatch" serve --domains "$work/domains.txt" --interval "${interval}s" \
  --resolver "$net.0.1:53" --ca-file "$work/tb/ca/root.pem" --allow-private \
  --allow-net "$net.0.0/16" --concurrency 256 --data-dir "$work/data" 2>"$work/serve.log" &
serve_pid=$!
redis() { redis-cli -s "$work/data/redis.sock" "$@"; }

# First round: every domain gets its first state (an applied write with a first_check event).
deadline=$((SECONDS + 10 * interval + 120))
until [ -S "$work/data/redis.sock" ] && \
    [ "$("$stswatch" status --data-dir "$work/data" --json --events 0 2>/dev/null |
         python3 -c 'import json,sys; print(len(json.load(sys.stdin)["domains"]))' 2>/dev/null ||
         echo 0)" -ge "$domains" ]; do
  [ $SECONDS -lt $deadline ] || { echo "first round did not finish" >&2; tail "$work/serve.log" >&2; exit 1; }
  sleep 2
done
sleep 2

# One steady interval, measured.
cpu() { awk '{ print $14 + $15 }' "/proc/$serve_pid/stat"; }
redis CONFIG RESETSTAT >/dev/null
cpu_before=$(cpu)
checked_before=$("$stswatch" status --data-dir "$work/data" --json --events 0 --domains |
  python3 -c 'import json,sys; print(json.dumps({d["domain"]: d["checked"] for d in json.load(sys.stdin)["domains"]}))')
sleep $((interval + 5))
cpu_after=$(cpu)
stats=$(redis INFO commandstats)
checked_after=$("$stswatch" status --data-dir "$work/data" --json --events 0 --domains |
  python3 -c 'import json,sys; print(json.dumps({d["domain"]: d["checked"] for d in json.load(sys.stdin)["domains"]}))')

cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
python3 - "$stats" "$checked_before" "$checked_after" "$cpu_before" "$cpu_after" \
    "$(getconf CLK_TCK)" "$(nproc)" "$cpu_model" "$domains" "$interval" <<'PY'
import json, sys
stats, before, after, cpu0, cpu1, hz, cores, model, domains, interval = sys.argv[1:]
calls = {}
for line in stats.splitlines():
    if line.startswith("cmdstat_"):
        name, rest = line[8:].split(":", 1)
        calls[name] = int(rest.split(",")[0].split("=")[1])
before, after = json.loads(before), json.loads(after)
rechecked = sum(1 for d, t in after.items() if t and before.get(d) and t != before[d])
print(f"machine: {cores} cores, {model}")
print(f"serve: {domains} domains, interval {interval} s, steady world (no changes)")
print(f"domains re-checked in the measured interval: {rechecked}")
print("Redis commands in the interval (INFO commandstats):")
for name, n in sorted(calls.items(), key=lambda kv: -kv[1]):
    print(f"  {name:20s} {n}")
evalsha = calls.get("evalsha", 0)
# status --domains adds one HMGET per domain and HGETALL/XREVRANGE per partition, once; the
# check path is EVALSHA + HMGET + HSET.
check_cmds = evalsha + calls.get("hset", 0) + calls.get("hmget", 0) - len(after)
print(f"update scripts (EVALSHA): {evalsha}, one per check")
print(f"commands per steady-state check: {check_cmds / evalsha:.2f} "
      f"(EVALSHA + the HMGET and HSET it runs)" if evalsha else "no checks measured")
ticks = float(cpu1) - float(cpu0)
if evalsha:
    print(f"serve CPU per check: {ticks / float(hz) * 1000 / evalsha:.2f} ms (user + system)")
PY
