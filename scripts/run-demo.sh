#!/usr/bin/env bash
# The main job on the built-in demo model (made on first use, then cached).
set -euo pipefail
tether=${1:-build/tether}
# The demo model's weights are seeded noise: the text is gibberish, but the
# same every run (fixed seed), streamed as it is generated.
"$tether" generate --model demo --prompt "Once upon a time" -n 64 --seed 42 --threads 2
