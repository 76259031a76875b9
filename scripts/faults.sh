#!/usr/bin/env bash
# Runs the fault suite, the bad-input corpus, its controls and the parsers' properties (modules
# `faults`, `bad_input`, `controls` and `properties` of core's one integration-test binary,
# crates/integration/tests/it) and prints one count each: "faults survived: N/M", "bad inputs rejected:
# N/M" (each a malformed input refused by the defence its name says; audited in docs/corpus.md),
# "controls passed: N/M" (good or clampable inputs accepted) and "properties held: N/M". Exits
# non-zero if any case failed, was skipped or ignored, or if a
# total is not the one written below (a case that vanished would otherwise leave both sides of
# N/M smaller and the line still green).
#
# cargo-nextest runs every case in its own process: a case that measures its own memory
# (faults::live) is not disturbed by the others, and a crash fails one case, not the count.
# Extra arguments go to nextest.
#
# Adding a case: add it, then raise the expected total here in the same commit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

EXPECTED_FAULTS=61
EXPECTED_BAD_INPUTS=124
EXPECTED_CONTROLS=4
EXPECTED_PROPERTIES=5

log=$(mktemp)
trap 'rm -f "$log"' EXIT
rc=0
cargo nextest run -p lakepass-integration --test it --no-fail-fast --run-ignored all \
    -E 'test(/^faults::/) | test(/^bad_input::/) | test(/^controls::/) | test(/^properties::/)' "$@" 2>&1 | tee "$log" || rc=1

count() { # <module> <PASS|FAIL|SKIP…>
    grep -cE "^ *$2 +\[.*\] +(\([0-9/ ]+\) +)?lakepass-integration::it $1::" "$log" || true
}
failed='(FAIL|SIGSEGV|SIGABRT|TIMEOUT|ABORT)'
fp=$(count faults PASS) ff=$(count faults "$failed")
bp=$(count bad_input PASS) bf=$(count bad_input "$failed")
cp=$(count controls PASS) cf=$(count controls "$failed")
pp=$(count properties PASS) pf=$(count properties "$failed")
skipped=$(grep -cE '^ *SKIP ' "$log" || true)
printf '\nfaults survived: %d/%d\n' "$fp" $((fp + ff))
printf 'bad inputs rejected: %d/%d (each a malformed input refused by the defence its name says)\n' "$bp" $((bp + bf))
printf 'controls passed: %d/%d (good or clampable inputs accepted)\n' "$cp" $((cp + cf))
printf 'properties held: %d/%d\n' "$pp" $((pp + pf))
if ((skipped > 0)); then
    echo "faults.sh: $skipped case(s) skipped or ignored; every case must run" >&2
    rc=1
fi
expect() { # <what> <ran> <expected>
    if (($2 != $3)); then
        echo "faults.sh: expected $3 $1, ran $2. Update the totals in scripts/faults.sh with the cases." >&2
        rc=1
    fi
}
expect "fault cases" $((fp + ff)) "$EXPECTED_FAULTS"
expect "bad inputs" $((bp + bf)) "$EXPECTED_BAD_INPUTS"
expect controls $((cp + cf)) "$EXPECTED_CONTROLS"
expect properties $((pp + pf)) "$EXPECTED_PROPERTIES"
exit "$rc"
