#!/usr/bin/env bash
# Benchmark: `stswatch check` over 10 000 testbed domains on 10 shared MX hosts, end to end (the
# testbed runs on the same machine), and Debian's postfix-mta-sts-resolver (`mta-sts-query`)
# fetching the same policies, in one run so the two are compared side by side.
#
#   bench/check_10k.sh [--domains N] [--mx-hosts M] [--resolver-sample K] [--net 127.N]
#
# Reports domains per second, stswatch CPU milliseconds per domain (user + system, from
# getrusage via /usr/bin/time) and peak memory; then mta-sts-query's rate over a sample of K
# domains (it is one Python process per domain, the way a user scripts it with xargs -P).
set -euo pipefail
cd "$(dirname "$0")/.."
domains=10000
mx_hosts=10
sample=400
net=127.60
while [ $# -gt 0 ]; do
  case "$1" in
    --domains) domains="$2"; shift 2 ;;
    --mx-hosts) mx_hosts="$2"; shift 2 ;;
    --resolver-sample) sample="$2"; shift 2 ;;
    --net) net="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

scripts/setup
# The comparison tool and GNU time are needed only here; never let their daemons start.
if ! command -v mta-sts-query >/dev/null || [ ! -x /usr/bin/time ]; then
  [ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d;
    chmod +x /usr/sbin/policy-rc.d; trap 'rm -f /usr/sbin/policy-rc.d' EXIT; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix-mta-sts-resolver time >/dev/null
fi
bazel build -c opt //cli:stswatch >/dev/null 2>&1
stswatch="$(bazel info -c opt bazel-bin 2>/dev/null)/cli/stswatch"

work=$(mktemp -d /tmp/stswatch-bench-XXXXXX)
chmod 755 "$work"
cleanup() { testbed/testbed stop --dir "$work/tb" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

testbed/testbed generate --domains "$domains" --mx-hosts "$mx_hosts" >"$work/scenario.yaml"
grep -o 'name: d[0-9]*\.bench\.test' "$work/scenario.yaml" | cut -d' ' -f2 >"$work/domains.txt"
started=$(date +%s.%N)
testbed/testbed start "$work/scenario.yaml" --net "$net" --dir "$work/tb" --replace >/dev/null
testbed_start=$(awk -v a="$(date +%s.%N)" -v b="$started" 'BEGIN { print a - b }')

/usr/bin/time -f '%e %U %S %M' -o "$work/time" "$stswatch" check --json \
  --resolver "$net.0.1:53" --ca-file "$work/tb/ca/root.pem" --allow-private \
  --allow-net "$net.0.0/16" --concurrency 256 --file "$work/domains.txt" \
  >"$work/out.jsonl" 2>"$work/err" || true
read -r wall user sys rss <"$work/time"
checked=$(wc -l <"$work/out.jsonl")
ok=$(grep -c '"status":"ok"' "$work/out.jsonl" || true)

# mta-sts-query, the way a user scripts it, in a mount namespace whose /etc/resolv.conf points
# at the testbed's DNS (port 53) and with the test CA as the trust store: the machine's own
# resolver configuration is untouched.
printf 'nameserver %s.0.1\n' "$net" >"$work/resolv.conf"
head -n "$sample" "$work/domains.txt" >"$work/sample.txt"
r_started=$(date +%s.%N)
unshare -m sh -c "mount --bind '$work/resolv.conf' /etc/resolv.conf && \
  SSL_CERT_FILE='$work/tb/ca/root.pem' xargs -P $(nproc) -n 1 mta-sts-query <'$work/sample.txt'" \
  >"$work/resolver.out" 2>&1 || true
r_wall=$(awk -v a="$(date +%s.%N)" -v b="$r_started" 'BEGIN { print a - b }')
r_valid=$(grep -c 'STSFetchResult.VALID' "$work/resolver.out" || true)

cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
awk -v d="$checked" -v ok="$ok" -v wall="$wall" -v user="$user" -v sys="$sys" -v rss="$rss" \
    -v tb="$testbed_start" -v rs="$sample" -v rw="$r_wall" -v rv="$r_valid" \
    -v cores="$(nproc)" -v cpu="$cpu_model" -v err="$(tail -1 "$work/err")" 'BEGIN {
  printf "machine: %d cores, %s\n", cores, cpu
  printf "testbed: %d domains started in %.1f s\n", d, tb
  printf "stswatch check: %d domains (%d ok) in %.1f s = %.0f domains/s\n", d, ok, wall, d / wall
  printf "  CPU %.2f ms per domain (user %.1f s + system %.1f s), peak memory %.0f MiB\n",
         (user + sys) * 1000 / d, user, sys, rss / 1024
  printf "  %s\n", err
  printf "mta-sts-query (xargs -P %d): %d domains (%d valid) in %.1f s = %.1f domains/s\n",
         cores, rs, rv, rw, rs / rw
  printf "ratio: stswatch checks %.0fx more domains per second, and probes every MX as well\n",
         (d / wall) / (rs / rw)
}'
