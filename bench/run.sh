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

need xvfb-run xvfb
need xdotool xdotool
need xterm xterm

echo "[bench] building release binaries, the tray app included (nice; the cargo lock may wait for other builds)" >&2
nice -n 10 cargo build --release -q -p lakepass-cli -p lakepass-bench -p lakepass-tray

# The Python baseline (requests, keyring, msal, as the seed gateway's helper imports them) and the
# tray probe's D-Bus client (dbus-next, as src-tauri/gui-tests uses it).
if [ ! -x bench/.venv/bin/python ] || ! bench/.venv/bin/python -c 'import requests, keyring, msal, dbus_next' 2>/dev/null; then
  echo "[bench] creating bench/.venv with requests keyring msal dbus-next" >&2
  python3 -m venv bench/.venv
  bench/.venv/bin/pip install -q requests keyring msal -r src-tauri/gui-tests/requirements.txt
fi

tray=${LAKEPASS_TRAY_BIN:-$root/target/release/lakepass-tray}
# The real Claude Code (npm, scripts/ci-deps.sh installs it) for the launch click (6d).
claude=${LAKEPASS_PEERS_DIR:-$root/tests/peers}/node_modules/@anthropic-ai/claude-code-linux-x64/claude
claude_args=()
[ -x "$claude" ] && claude_args=(--claude "$claude")

exec target/release/lakepass-bench --root "$root" --lakepass "$root/target/release/lakepass" \
  --python "$root/bench/.venv/bin/python" --tray "$tray" "${claude_args[@]}" "$@"
