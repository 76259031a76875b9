# shellcheck shell=bash
# The shell scripts' skip rule, the same as the tests' (`may_skip` in tests/support/skip.rs):
# under CI (`CI` set to anything but empty, `0` or `false`) nothing may skip. Source it, then
#   may_skip "<reason>" || exit 1
# prints "skipped: <reason>" and succeeds outside CI; under CI it prints the reason as a failure
# and fails.
ci_is_set() {
    local v=${CI:-}
    v=${v//[[:space:]]/}
    [[ -n $v && $v != 0 && $v != false ]]
}

may_skip() {
    if ci_is_set; then
        echo "$1 (CI is set: nothing may skip, so this is a failure)" >&2
        return 1
    fi
    echo "skipped: $1" >&2
}
