#!/usr/bin/env bash
# The README test: every block of README.md run or checked against the built `lakepass` and a
# devstack, and the CLI reference table against `--help`. The work is in scripts/readme_test.py
# (its docstring says what each kind of block gets); this wrapper is what .ci/run calls.
#
#   bash scripts/readme-test.sh            (uses $LAKEPASS_BIN, else target/debug/lakepass)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec python3 scripts/readme_test.py "$@"
