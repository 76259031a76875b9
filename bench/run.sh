#!/usr/bin/env bash
# Lakepass benchmarks, one command: `bash bench/run.sh [--quick]`.
# Builds the release binaries, prepares the Python baseline's venv (bench/.venv), runs every
# benchmark against an in-process devstack on 127.0.0.1, prints a table and rewrites
# docs/benchmarks.md. Never part of CI: performance targets live here, not in timed tests.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

need() { command -v "$1" >/dev/null || { echo "bench: $1 is missing (apt-get install $2)" >&2; exit 2; }; }
need hyperfine hyperfine
need wrk wrk
need curl curl

echo "[bench] building release binaries (nice; the cargo lock may wait for other builds)" >&2
nice -n 10 cargo build --release -q -p lakepass-cli -p lakepass-bench

if [ ! -x bench/.venv/bin/python ] || ! bench/.venv/bin/python -c 'import requests, keyring, msal' 2>/dev/null; then
  echo "[bench] creating bench/.venv with requests keyring msal" >&2
  python3 -m venv bench/.venv
  bench/.venv/bin/pip install -q requests keyring msal
fi

tray_args=()
for t in "${LAKEPASS_TRAY_BIN:-}" target/tray/release/lakepass-tray target/release/lakepass-tray; do
  if [ -n "$t" ] && [ -x "$t" ]; then tray_args=(--tray "$root/$t"); [ "${t:0:1}" = / ] && tray_args=(--tray "$t"); break; fi
done

exec target/release/lakepass-bench --root "$root" --lakepass "$root/target/release/lakepass" \
  --python "$root/bench/.venv/bin/python" "${tray_args[@]}" "$@"
