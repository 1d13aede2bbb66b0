#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A repeatable cost figure for mtwserver's fan-out path: instructions (Ir) per delivered message,
# counted by callgrind, independent of the machine's speed and load.
#
#   bench/callgrind.sh [--build-dir build/dev] [--subscribers 100] [--messages 200] [--window 10]
#                      [--transport ws|sse] [--config bench/mtwserver-bench.toml] [--check FILE]
#                      [--write-baseline FILE]
#
# mtwserver runs under valgrind --tool=callgrind with the bench config; mtw-loadgen connects and
# subscribes, then (callgrind_control) the counters are dumped before and after the publishes, so
# one figure covers the publish/fan-out phase only. The whole-run total (startup, handshakes,
# subscribes, shutdown) is printed as well. --transport sse: the subscribers are Server-Sent Events
# streams (the publisher stays on WebSocket). Output files stay in
# bench/results/callgrind/ for callgrind_annotate or kcachegrind.
# --check FILE compares the publish phase's Ir per delivery with a saved baseline (a JSON file
# --write-baseline wrote, with the scenario it was measured with: that scenario is run) and exits 1
# when it is more than the baseline's tolerance (10%) worse; CTest runs bench/callgrind-baseline.json
# this way (bench_callgrind). --write-baseline FILE saves this run's figure as such a baseline.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build_dir="$here/../build/dev"
subscribers=100
messages=200
window=10
transport=ws
config="$here/mtwserver-bench.toml"
check=""
write_baseline=""
while [[ $# -gt 0 ]]; do
    case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --subscribers) subscribers=$2; shift 2 ;;
    --messages) messages=$2; shift 2 ;;
    --window) window=$2; shift 2 ;;
    --transport) transport=$2; shift 2 ;;
    --config) config=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); shift 2 ;;
    --check) check=$2; shift 2 ;;
    --write-baseline) write_baseline=$2; shift 2 ;;
    -h | --help) sed -n '3,20p' "$0"; exit 0 ;;
    *) echo "callgrind.sh: unknown option $1" >&2; exit 64 ;;
    esac
done
[[ $transport == ws || $transport == sse ]] ||
    { echo "callgrind.sh: --transport: expected ws or sse, got '$transport'" >&2; exit 64; }
if [[ -n $check ]]; then
    [[ -r $check ]] || { echo "callgrind.sh: --check $check: no such baseline file" >&2; exit 2; }
    # The baseline says which scenario it was measured with.
    read -r subscribers messages window transport < <(python3 -c 'import json,sys; b=json.load(open(sys.argv[1])); print(b["subscribers"], b["messages"], b["window"], b.get("transport", "ws"))' "$check") ||
        { echo "callgrind.sh: --check $check: not a baseline (subscribers, messages, window, ir_per_delivery)" >&2; exit 2; }
fi
build_dir=$(cd "$build_dir" && pwd)
server="$build_dir/bin/mtwserver"
loadgen="$build_dir/bin/mtw-loadgen"
for tool in "$server" "$loadgen"; do
    [[ -x $tool ]] || { echo "callgrind.sh: $tool not found; build it first" >&2; exit 2; }
done
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }

out="$here/results/callgrind"
mkdir -p "$out"
rm -f "$out"/callgrind.out.*
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

valgrind --tool=callgrind --compress-strings=no --callgrind-out-file="$out/callgrind.out.%p" \
    "$server" --config "$config" --host 127.0.0.1 --port "$port" \
    >"$out/server.log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; }
trap cleanup EXIT

for _ in $(seq 1 300); do # valgrind starts slowly: up to 30 s
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    kill -0 "$pid" 2>/dev/null || { cat "$out/server.log" >&2; exit 1; }
    sleep 0.1
done

# Dump the counters after setup and after the measured phase: part 1 is startup + handshakes +
# subscribes, part 2 the publishes, the final file the shutdown. Without callgrind_control (it
# needs vgdb) only the whole-run total is available.
before=""
after=""
if command -v callgrind_control >/dev/null; then
    before="callgrind_control -d setup $pid >/dev/null 2>&1"
    after="callgrind_control -d publish $pid >/dev/null 2>&1"
fi
result=$("$loadgen" --host 127.0.0.1 --port "$port" --scenario fanout --threads 1 \
    --subscribers "$subscribers" --messages "$messages" --window "$window" --transport "$transport" \
    --timeout 300 \
    --before-run "$before" --after-run "$after")
kill -TERM "$pid"
wait "$pid" || true
trap - EXIT

ir_of() { awk '/^(totals|summary):/ { print $2; exit }' "$1"; }
deliveries=$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(r["deliveries"] if r["complete"] else 0)' "$result")
if [[ $deliveries -eq 0 ]]; then
    echo "callgrind.sh: the scenario did not complete: $result" >&2
    exit 1
fi
published=$((deliveries / subscribers))
all_ir=0
publish_ir=""
for f in "$out"/callgrind.out.*; do
    ir=$(ir_of "$f")
    all_ir=$((all_ir + ir))
    grep -q '^desc: Trigger: dump publish' "$f" && publish_ir=$ir
done
echo "scenario: 1 publisher -> $subscribers subscribers ($transport), $published messages, window $window"
echo "delivered: $deliveries messages"
if [[ -n $publish_ir ]]; then
    echo "publish phase: $publish_ir Ir = $((publish_ir / deliveries)) Ir per delivered message ($((publish_ir / published)) per publish)"
fi
echo "whole run (startup, handshakes, subscribes, publishes, shutdown): $all_ir Ir = $((all_ir / deliveries)) Ir per delivered message"
echo "files: $out (callgrind_annotate $out/callgrind.out.<pid>[.N])"

if [[ -n $write_baseline || -n $check ]] && [[ -z $publish_ir ]]; then
    echo "callgrind.sh: no publish-phase figure (callgrind_control missing?): nothing to compare" >&2
    exit 2
fi
per_delivery=$((publish_ir / deliveries))
if [[ -n $write_baseline ]]; then
    python3 - "$write_baseline" "$subscribers" "$messages" "$window" "$per_delivery" "$transport" <<'PY'
import datetime, json, sys
path, subscribers, messages, window, ir, transport = sys.argv[1:]
json.dump({"subscribers": int(subscribers), "messages": int(messages), "window": int(window),
           "transport": transport, "ir_per_delivery": int(ir), "tolerance": 0.10,
           "measured": datetime.date.today().isoformat(),
           "what": "bench/callgrind.sh publish phase, Ir per delivered message"},
          open(path, "w"), indent=1)
PY
    echo "baseline written: $write_baseline ($per_delivery Ir per delivery)"
fi
if [[ -n $check ]]; then
    python3 - "$check" "$per_delivery" <<'PY'
import json, sys
baseline = json.load(open(sys.argv[1]))
now, then = int(sys.argv[2]), int(baseline["ir_per_delivery"])
tolerance = float(baseline.get("tolerance", 0.10))
ratio = now / then
print(f"compared with {sys.argv[1]}: {now} Ir per delivery now, {then} in the baseline "
      f"({ratio:.3f}x; fails above {1 + tolerance:.2f}x)")
if ratio > 1 + tolerance:
    print(f"callgrind.sh: the fan-out path costs {100 * (ratio - 1):.1f}% more instructions per "
          "delivery than the baseline: find the cause, or update the baseline "
          "(bench/callgrind.sh --write-baseline) if the cost is intended", file=sys.stderr)
    sys.exit(1)
PY
fi
