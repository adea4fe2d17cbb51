#!/usr/bin/env bash
# The main job on the built-in demo model (made on first use, then cached).
set -euo pipefail
tether=${1:-build/tether}
"$tether" inspect demo
"$tether" tokenize --model demo "Hello from tether! The demo model tokenizes this."
