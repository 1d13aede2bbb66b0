#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A repeatable cost figure for mtwserver's fan-out path: instructions (Ir) per delivered message,
# counted by callgrind, independent of the machine's speed and load.
#
#   bench/callgrind.sh [--build-dir build/dev] [--subscribers 100] [--messages 200] [--window 10]
#                      [--config bench/mtwserver-bench.toml]
#
# mtwserver runs under valgrind --tool=callgrind with the bench config; mtw-loadgen connects and
# subscribes, then (callgrind_control) the counters are dumped before and after the publishes, so
# one figure covers the publish/fan-out phase only. The whole-run total (startup, handshakes,
# subscribes, shutdown) is printed as well. Output files stay in
# bench/results/callgrind/ for callgrind_annotate or kcachegrind.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build_dir="$here/../build/dev"
subscribers=100
messages=200
window=10
config="$here/mtwserver-bench.toml"
while [[ $# -gt 0 ]]; do
    case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --subscribers) subscribers=$2; shift 2 ;;
    --messages) messages=$2; shift 2 ;;
    --window) window=$2; shift 2 ;;
    --config) config=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); shift 2 ;;
    -h | --help) sed -n '3,13p' "$0"; exit 0 ;;
    *) echo "callgrind.sh: unknown option $1" >&2; exit 64 ;;
    esac
done
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
    --subscribers "$subscribers" --messages "$messages" --window "$window" --timeout 300 \
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
echo "scenario: 1 publisher -> $subscribers subscribers, $published messages, window $window"
echo "delivered: $deliveries messages"
if [[ -n $publish_ir ]]; then
    echo "publish phase: $publish_ir Ir = $((publish_ir / deliveries)) Ir per delivered message ($((publish_ir / published)) per publish)"
fi
echo "whole run (startup, handshakes, subscribes, publishes, shutdown): $all_ir Ir = $((all_ir / deliveries)) Ir per delivered message"
echo "files: $out (callgrind_annotate $out/callgrind.out.<pid>[.N])"
