#!/usr/bin/env bash
# The agents' proxy's added latency against direct requests, in one run: `bash bench/proxy.sh`.
# One release build of the bench binary, then a table (p50/p99 of a small request, first SSE
# byte, 50 streams at once) against an in-process devstack on 127.0.0.1. Never part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "[bench] building the proxy bench (release; the cargo lock may wait for other builds)" >&2
nice -n 10 cargo build --release -q -p lakepass-bench --bin proxy-bench
exec "${CARGO_TARGET_DIR:-target}/release/proxy-bench" "$@"
