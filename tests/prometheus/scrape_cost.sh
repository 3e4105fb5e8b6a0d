#!/usr/bin/env bash
# Scrape cost (issue #16): `weir bench produce` against one `weir serve` (a 200-partition topic,
# so a scrape has real work), alternating runs with and without a 1 s `/metrics` scrape loop,
# three rounds, each with the broker's CPU seconds per record; then one scrape's size and time,
# and the broker CPU one scrape costs (30 scrapes of the idle broker, from /proc/PID/stat).
# Needs curl and python3. Not part of run.sh: it measures, it does not pass or fail.
# Usage: bash tests/prometheus/scrape_cost.sh WEIR_BINARY
set -euo pipefail
W=$1; D=$(mktemp -d)
$W serve --listen 127.0.0.1:0 --data-dir $D/data --set http_listen=127.0.0.1:0 > $D/out 2>$D/err &
SP=$!
sleep 1.5
cpu() { awk '{print $14 + $15}' /proc/$SP/stat; }  # utime + stime, clock ticks
TCK=$(getconf CLK_TCK)
K=$(sed -n 1p $D/out | awk '{print $4}'); H=$(sed -n 2p $D/out | awk '{print $4}')
# A few thousand series to make each scrape do real work: 200 partitions.
$W topic create bench -p 200 --bootstrap $K >/dev/null
for round in 1 2 3; do
  for mode in none scrape; do
    LP=
    if [ $mode = scrape ]; then
      ( while true; do curl -s http://$H/metrics -o /dev/null; sleep 1; done ) &
      LP=$!
    fi
    C0=$(cpu)
    $W bench produce --bootstrap $K --topic bench --duration 8s --warmup 1s --record-size 1024 --no-ceilings --json > $D/r.json 2>/dev/null
    C1=$(cpu)
    [ -n "$LP" ] && kill $LP
    python3 -c "
import json; r=json.load(open('$D/r.json'))
cpu_s = ($C1 - $C0) / $TCK
print('$round $mode', 'records', r['records'], 'throughput', r['throughput'], 'p50_us', r['latency']['p50_us'], 'p99_us', r['latency']['p99_us'], 'broker_cpu_us_per_record', round(cpu_s * 1e6 / max(1, r['records']), 3))"
  done
done
SZ=$(curl -s http://$H/metrics | wc -c); T=$( { /usr/bin/time -f %e curl -s http://$H/metrics -o /dev/null; } 2>&1 )
echo "scrape: $SZ bytes, $T s"
C0=$(cpu)
for i in $(seq 30); do curl -s http://$H/metrics -o /dev/null; done
C1=$(cpu)
python3 -c "print('broker CPU per scrape (idle, 30 scrapes): %.1f ms' % (($C1 - $C0) * 1000 / $TCK / 30))"
kill $SP; wait $SP 2>/dev/null || true
rm -rf $D
