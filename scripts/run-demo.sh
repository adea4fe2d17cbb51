#!/usr/bin/env bash
# The main job: `tether serve` on the built-in demo model (made on first use,
# then cached), OpenAI- and Workers-AI-compatible, on http://127.0.0.1:8080
# (TETHER_PORT overrides). Stop it with Ctrl-C: it drains and exits 0.
set -euo pipefail
tether=${1:-build/tether}
port=${TETHER_PORT:-8080}
cat <<MSG
tether serve on the demo model (seeded random weights: the text is gibberish, the API is real).
Try, from another terminal:
  curl -s http://127.0.0.1:${port}/v1/chat/completions -H 'content-type: application/json' \\
    -d '{"model": "demo", "messages": [{"role": "user", "content": "Hello!"}], "max_tokens": 16}'
Async (queued in tether-jobs.db, answered 202 with a job id to poll at /v1/jobs/ID):
  curl -s http://127.0.0.1:${port}/v1/chat/completions -H 'x-tether-async: true' \\
    -d '{"model": "demo", "messages": [{"role": "user", "content": "Hello!"}], "max_tokens": 16}'
MSG
exec "$tether" serve --model demo --port "$port" --threads 2
