#!/usr/bin/env bash
# Installs the Debian packages tether needs to build and test, only those missing.
# Idempotent; works as root or through sudo.
set -euo pipefail

packages=(
  cmake ninja-build g++ make pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libsqlite3-dev libssl-dev libspdlog-dev libfmt-dev libcli11-dev
  libyaml-cpp-dev libxxhash-dev libpcre2-dev
  libpq-dev postgresql
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
)

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$pkg")
done

install_packages() {
  echo "install-deps: installing ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then
    sudo_cmd=()
  elif command -v sudo >/dev/null 2>&1; then
    sudo_cmd=(sudo)
  else
    echo "install-deps: missing packages (${missing[*]}) and not root, no sudo" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Node.js runs the end-to-end tests with the official openai client; Debian's
# nodejs/npm only where the machine has no node of its own.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  install_packages
fi

# The openai npm package for tests/e2e, pinned by its package-lock.json.
e2e_dir="$(cd "$(dirname "$0")/.." && pwd)/tests/e2e"
if [ ! -f "$e2e_dir/node_modules/openai/package.json" ]; then
  echo "install-deps: installing the openai npm package in tests/e2e"
  (cd "$e2e_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi
