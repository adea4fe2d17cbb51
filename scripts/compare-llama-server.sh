#!/usr/bin/env bash
# The agent workload through HTTP against `tether serve` and, if
# LLAMA_SERVER names an existing llama-server binary, against llama.cpp's
# server on the same GGUF and thread count (8 slots), one after the other on
# an otherwise idle machine; prints both reports. Never downloads or builds
# anything.
#
#   LLAMA_SERVER=/work/ext/llama.cpp/build/bin/llama-server scripts/compare-llama-server.sh m.gguf 2
#
# Env: TETHER (default build/tether), SLOTS (llama-server -np, default 8),
# AGENT_ARGS (extra `tether bench --workload agent` options, e.g.
# "--sessions 4 --turns 3").
set -euo pipefail
if [[ $# -lt 1 || $# -gt 2 ]]; then
  echo "usage: $0 MODEL.gguf [THREADS]" >&2
  exit 2
fi
model=$1
threads=${2:-2}
tether=${TETHER:-build/tether}
slots=${SLOTS:-8}
read -r -a agent_args <<< "${AGENT_ARGS:-}"
[[ -f $model ]] || { echo "no such model file: $model" >&2; exit 1; }
[[ -x $tether ]] || { echo "tether binary not found at $tether (build first, or set TETHER)" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_ready() {  # URL PATH
  for _ in $(seq 1 600); do
    curl -sf "$1$2" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "server at $1 did not become ready" >&2
  return 1
}
server_pid=
stop_server() { [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null; server_pid=; }
trap stop_server EXIT

run_bench() {  # LABEL URL
  "$tether" bench --workload agent --model "$model" --url "$2" --model-name served --label "$1" "${agent_args[@]}"
}

echo "load before: $(uptime)"
port=$(free_port)
"$tether" serve --model "$model" --model-name served --port "$port" --threads "$threads" >/dev/null 2>&1 &
server_pid=$!
wait_ready "http://127.0.0.1:$port" /ready
ours=$(run_bench tether "http://127.0.0.1:$port")
stop_server
echo "tether: $ours"

if [[ -n ${LLAMA_SERVER:-} && -x ${LLAMA_SERVER} ]]; then
  port=$(free_port)
  "$LLAMA_SERVER" -m "$model" -t "$threads" -np "$slots" --port "$port" --alias served \
    >/dev/null 2>&1 &
  server_pid=$!
  wait_ready "http://127.0.0.1:$port" /health
  theirs=$(run_bench llama-server "http://127.0.0.1:$port")
  stop_server
  echo "llama-server: $theirs"
else
  echo "llama-server: skipped (set LLAMA_SERVER to its binary)"
fi
echo "load after: $(uptime)"
