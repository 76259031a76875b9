#!/usr/bin/env bash
# Runs the fault suite and the bad-input corpus (modules `faults` and `bad_input` of core's one
# integration-test binary, crates/core/tests/it) and prints their counts: "faults survived: N/M"
# and "bad inputs rejected: N/M". Exits non-zero if any case failed. Extra arguments go to every
# `cargo test` (e.g. `-- --nocapture`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log=$(mktemp)
trap 'rm -f "$log"' EXIT
rc=0
# Every case is its own #[test]; libtest filters by substring, so each suite is counted from its
# own "test <path> ... ok|FAILED" lines, anchored at the module path.
cargo test -p lakepass-core --test it faults:: "$@" 2>&1 | tee -a "$log" || rc=1
cargo test -p lakepass-core --test it bad_input:: "$@" 2>&1 | tee -a "$log" || rc=1

count() { # <module path prefix> <"ok"|"FAILED">
    grep -cE "^test $1::.* \.\.\. $2\$" "$log" || true
}
fp=$(count faults ok) ff=$(count faults FAILED)
bp=$(count bad_input ok) bf=$(count bad_input FAILED)
properties=$(count bad_input::fuzz_properties ok)
printf '\nfaults survived: %d/%d\n' "$fp" $((fp + ff))
printf 'bad inputs rejected: %d/%d (of which %d property tests of the fuzz targets)\n' \
    "$bp" $((bp + bf)) "$properties"
exit "$rc"
