#!/usr/bin/env bash
# Runs the fault suite and the bad-input corpus (modules `faults` and `bad_input` of core's one
# integration-test binary, crates/core/tests/it) and prints their counts: "faults survived: N/M"
# and "bad inputs rejected: N/M". Exits non-zero if any case failed, was skipped or ignored, or
# if a total is not the one written below (a case that vanished would otherwise leave both sides
# of N/M smaller and the line still green).
#
# cargo-nextest runs every case in its own process: a case that measures its own memory
# (faults::live) is not disturbed by the others, and a crash fails one case, not the count.
# Extra arguments go to nextest.
#
# Adding a case: add it, then raise the expected total here in the same commit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

EXPECTED_FAULTS=39
EXPECTED_BAD_INPUTS=106

log=$(mktemp)
trap 'rm -f "$log"' EXIT
rc=0
cargo nextest run -p lakepass-core --test it --no-fail-fast --run-ignored all \
    -E 'test(/^faults::/) | test(/^bad_input::/)' "$@" 2>&1 | tee "$log" || rc=1

count() { # <module> <PASS|FAIL|SKIP…>
    grep -cE "^ *$2 +\[.*\] +(\([0-9/ ]+\) +)?lakepass-core::it $1::" "$log" || true
}
fp=$(count faults PASS) ff=$(count faults '(FAIL|SIGSEGV|SIGABRT|TIMEOUT|ABORT)')
bp=$(count bad_input PASS) bf=$(count bad_input '(FAIL|SIGSEGV|SIGABRT|TIMEOUT|ABORT)')
skipped=$(grep -cE '^ *SKIP ' "$log" || true)
properties=$(count 'bad_input::fuzz_properties' PASS)
printf '\nfaults survived: %d/%d\n' "$fp" $((fp + ff))
printf 'bad inputs rejected: %d/%d (of which %d property tests of the fuzz targets)\n' \
    "$bp" $((bp + bf)) "$properties"
if ((skipped > 0)); then
    echo "faults.sh: $skipped case(s) skipped or ignored; every case must run" >&2
    rc=1
fi
if ((fp + ff != EXPECTED_FAULTS || bp + bf != EXPECTED_BAD_INPUTS)); then
    echo "faults.sh: expected $EXPECTED_FAULTS fault cases and $EXPECTED_BAD_INPUTS bad inputs;" \
        "ran $((fp + ff)) and $((bp + bf)). Update the totals in scripts/faults.sh with the cases." >&2
    rc=1
fi
exit "$rc"
