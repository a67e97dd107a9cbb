#!/usr/bin/env bash
# produce-cost.sh BIN PORT CASE [EXTRA_YAML]: start a node of binary BIN on 127.0.0.1:PORT with the
# hostile suite's stream s, send one hostile produce body, and print the answer, the node's CPU
# seconds, its peak RSS (VmHWM) and what it stored. Cases (bodies made in /tmp/produce-cost):
#   numbers        40 events with n = 1e999999 (NDJSON)
#   numbers-leave  the same, the client leaving after 0.5 s; CPU in the next 10 s
#   costly         100,000 events the schema refuses (3 violations each)
#   costly-leave   the same, the client leaving after 0.3 s; CPU in the next 10 s
#   million        {}\n x 10^6
set -u
bin=$1 port=$2 case=$3 extra=${4:-}
data=/tmp/produce-cost
mkdir -p $data
[ -f $data/million.ndjson ] || python3 - <<'PY'
d = "/tmp/produce-cost/"
with open(d + "numbers.ndjson", "w") as f:
    for i in range(40):
        f.write('{"id":"big-%d","dt":"2024-05-01T00:00:00Z","n":1e999999}\n' % i)
with open(d + "costly.ndjson", "w") as f:
    for i in range(100000):
        f.write('{"id":"e%d","dt":"2024-05-01T00:00:00Z","n":"not a number","bot":"no","text":5}\n' % i)
with open(d + "million.ndjson", "w") as f:
    f.write("{}\n" * 1000000)
PY
dir=$(mktemp -d $data/run.XXXX)
echo '{"type":"object","required":["id","dt"],"properties":{"id":{"type":"string"},"dt":{"type":"string"},"n":{"type":"integer"},"bot":{"type":"boolean"},"text":{"type":"string"}}}' > "$dir/s.json"
printf 'streams:\n  s:\n    schema: s.json\n    id: /id\n    time: /dt\n%b' "$extra" > "$dir/sluice.yaml"
"$bin" serve --config "$dir/sluice.yaml" --data "$dir/data" --addr 127.0.0.1:$port --progress 0 --log-level error >"$dir/log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -s 127.0.0.1:$port/readyz >/dev/null && break; sleep 0.1; done
tck=$(getconf CLK_TCK)
cpu() { awk '{print $14+$15}' /proc/$pid/stat; }
secs() { echo "scale=2; $1/$tck" | bc; }
post() { curl -s "$@" -H 'Content-Type: application/x-ndjson' 127.0.0.1:$port/v1/streams/s/events; }
c0=$(cpu)
case $case in
numbers|costly|million)
  post -o /dev/null -w 'status %{http_code}, answer %{size_download} B, %{time_total} s\n' --data-binary @$data/$case.ndjson ;;
numbers-leave|costly-leave)
  after=0.5; [ "$case" = costly-leave ] && after=0.3
  post -o /dev/null -m $after --data-binary @$data/${case%-leave}.ndjson; echo "client left after $after s"
  c1=$(cpu); sleep 10; c2=$(cpu)
  echo "node CPU in the 10 s after the client left: $(secs $((c2-c1))) s" ;;
esac
c3=$(cpu)
echo "node CPU: $(secs $((c3-c0))) s; peak RSS $(awk '/VmHWM/{printf "%.0f MiB", $2/1024}' /proc/$pid/status); stored $(curl -s 127.0.0.1:$port/v1/streams/s | python3 -c 'import json,sys; print(json.load(sys.stdin)["messages"])')"
kill $pid; wait $pid 2>/dev/null
rm -rf "$dir"
