#!/usr/bin/env bash
# Benchmarks one GGUF file with tether and, if LLAMA_BENCH names an existing
# llama-bench binary, with llama.cpp on the same file and thread count, and
# prints the figures side by side. Never downloads or builds anything.
#
#   scripts/compare-llama-cpp.sh MODEL.gguf [THREADS]
#   LLAMA_BENCH=/work/ext/llama.cpp/build/bin/llama-bench scripts/compare-llama-cpp.sh m.gguf 2
#
# Env: TETHER (default build/tether), REPEATS (default 3), PREFILL (512),
# DECODE (64).
set -euo pipefail
if [[ $# -lt 1 || $# -gt 2 ]]; then
  echo "usage: $0 MODEL.gguf [THREADS]" >&2
  exit 2
fi
model=$1
threads=${2:-2}
tether=${TETHER:-build/tether}
repeats=${REPEATS:-3}
prefill=${PREFILL:-512}
decode=${DECODE:-64}
[[ -f $model ]] || { echo "no such model file: $model" >&2; exit 1; }
[[ -x $tether ]] || { echo "tether binary not found at $tether (build first, or set TETHER)" >&2; exit 1; }

echo "load before: $(uptime)"
ours=$("$tether" bench --model "$model" --threads "$threads" --repeats "$repeats" \
  --prefill-tokens "$prefill" --decode-tokens "$decode")
echo "tether: $ours"

theirs="[]"
if [[ -n ${LLAMA_BENCH:-} ]]; then
  if [[ ! -x $LLAMA_BENCH ]]; then
    echo "LLAMA_BENCH=$LLAMA_BENCH is not an executable file" >&2
    exit 1
  fi
  # Same file, threads and sizes; its tg test decodes from an empty context.
  theirs=$("$LLAMA_BENCH" -m "$model" -t "$threads" -p "$prefill" -n "$decode" -r "$repeats" -o json)
  echo "llama-bench: $(echo "$theirs" | tr -d '\n' | tr -s ' ')"
fi
echo "load after: $(uptime)"

OURS=$ours THEIRS=$theirs python3 - <<'PY'
import json, os
ours = json.loads(os.environ["OURS"])
theirs = json.loads(os.environ["THEIRS"] or "[]")
def llama(kind):
    for t in theirs:
        if kind == "pp" and t.get("n_prompt", 0) > 0 and t.get("n_gen", 0) == 0:
            return t["avg_ts"]
        if kind == "tg" and t.get("n_gen", 0) > 0 and t.get("n_prompt", 0) == 0:
            return t["avg_ts"]
    return None
rows = [
    (f"prefill {ours['prefill']['tokens']} tok/s", ours["prefill"]["tokens_per_s"], llama("pp")),
    (f"decode tok/s (1 seq)", ours["decode"]["tokens_per_s"], llama("tg")),
]
for b in ours["batched_decode"]:
    rows.append((f"decode tok/s ({b['sequences']} seqs, total)", b["tokens_per_s"], None))
print(f"\n{'workload':34} {'tether':>10} {'llama.cpp':>10} {'ratio':>7}")
for name, a, b in rows:
    bs = f"{b:10.2f}" if b is not None else f"{'-':>10}"
    ratio = f"{a / b:7.2f}" if b else f"{'-':>7}"
    print(f"{name:34} {a:10.2f} {bs} {ratio}")
d, m = ours["decode"], ours["memory"]
print(f"\nbandwidth {d['bandwidth_gbps']:.2f} GB/s, {d['weight_bytes_per_token'] / 1e6:.1f} MB weights/token, "
      f"decode limit {d['limit_tokens_per_s']:.2f} tok/s, reached {100 * d['fraction_of_limit']:.1f}%")
print(f"peak RSS {m['peak_rss_bytes'] / 2**20:.1f} MiB, bound {m['bound_bytes'] / 2**20:.1f} MiB "
      f"(weights {m['weight_bytes'] / 2**20:.1f} + KV {m['kv_bytes'] / 2**20:.1f} + 64), "
      f"within: {m['within_bound']}")
PY
