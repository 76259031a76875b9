#!/usr/bin/env bash
# Runs Lakepass on its embedded default: a local IdP and two workspace emulators on 127.0.0.1,
# a sign-in, and tokens refreshing live. No Databricks account needed. Ctrl-C stops it.
# Usage: bash scripts/demo.sh [demo options, see `lakepass demo --help`]
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
for pkg in build-essential pkg-config libssl-dev libdbus-1-dev; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "demo: installing ${need[*]}" >&2
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "demo: needs a Rust toolchain (https://rustup.rs), then re-run" >&2; exit 2; }
echo "demo: building lakepass (first build takes a couple of minutes)…" >&2
cargo build -q -p lakepass-cli
exec target/debug/lakepass demo "$@"
