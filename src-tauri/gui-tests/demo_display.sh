#!/usr/bin/env bash
# README command one, with a display: `bash scripts/demo.sh` opens the tray app signed in, tokens
# refresh live, and Ctrl-C stops every process it started.
#   xvfb-run -a dbus-run-session -- bash src-tauri/gui-tests/demo_display.sh <lakepass> [<artifacts dir>]
# (scripts/ci-ui.sh runs it after the UI, the CLI and the tray are built, so the demo's builds
# are quick). Checks: the dashboard window is shown; `lakepass status --json` says both
# workspaces are fresh; the dev token in the demo's credentials file changes (8 s tokens); after
# SIGINT (what Ctrl-C sends) the demo exits and no process it started is left. A screenshot of the
# screen goes to <artifacts>/demo.png.
set -euo pipefail
lakepass=$1
artifacts=${2:-}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dir=$(mktemp -d)
app=$dir/app
passes=0 fails=0
check() {
    if eval "$2"; then
        echo "ok   $1"
        passes=$((passes + 1))
    else
        echo "FAIL $1"
        fails=$((fails + 1))
    fi
}
token() { sed -n '/^\[devstack-dev\]/,/^\[/s/^token *= *//p' "$app/databrickscfg" 2>/dev/null | head -1; }
# Processes started by the demo: every one has the demo's folder in its argv or environment.
left() {
    local p
    for p in /proc/[0-9]*; do
        [[ ${p#/proc/} == "$$" ]] && continue
        tr '\0' '\n' 2>/dev/null <"$p/cmdline" | grep -q "$app" && echo "${p#/proc/}" && continue
        tr '\0' '\n' 2>/dev/null <"$p/environ" | grep -q "^LAKEPASS_DEMO_DIR=$app$" && echo "${p#/proc/}"
    done
    return 0
}

set -m # the demo in its own process group, and SIGINT not ignored in it (as in a terminal)
LAKEPASS_DEMO_DIR=$app bash "$repo/scripts/demo.sh" --token-ttl 8 >"$dir/demo.out" 2>&1 &
demo=$!
trap 'kill -KILL -- -$demo 2>/dev/null || true; for p in $(left); do kill -KILL "$p" 2>/dev/null || true; done' EXIT

for _ in $(seq 600); do
    grep -q "running:" "$dir/demo.out" && break
    kill -0 "$demo" 2>/dev/null || break
    sleep 0.5
done
check "the demo reports the app running" 'grep -q "running:" "$dir/demo.out"'
windows=
for _ in $(seq 40); do
    windows=$(xdotool search --onlyvisible --name '^Lakepass$' 2>/dev/null || true)
    [[ -n $windows ]] && break
    sleep 0.5
done
check "the dashboard window is shown" '[[ -n $windows ]]'
states=$(LAKEPASS_DATA_DIR=$app/data LAKEPASS_VAULT=file DATABRICKS_CONFIG_FILE=$app/databrickscfg "$lakepass" --config "$app/config.toml" status --json 2>/dev/null |
    python3 -c 'import json,sys; print(" ".join(w["name"] + "=" + w["state"] for w in json.load(sys.stdin)["workspaces"]))' || true)
check "signed in: both workspaces have a token ($states)" '[[ $states == *dev=fresh* || $states == *dev=expiring* ]] && [[ $states == *prod=* && $states != *needs_login* ]]'
first=$(token)
for _ in $(seq 40); do
    [[ -n $first && $(token) != "$first" ]] && break
    sleep 0.5
done
check "tokens refresh live (the dev token changed)" '[[ -n $first && -n $(token) && $(token) != "$first" ]]'
[[ -n $artifacts ]] && mkdir -p "$artifacts" && import -window root "$artifacts/demo.png" 2>/dev/null || true

kill -INT -- "-$demo"
for _ in $(seq 40); do
    kill -0 "$demo" 2>/dev/null || break
    sleep 0.25
done
check "Ctrl-C stops the demo" '! kill -0 "$demo" 2>/dev/null'
sleep 0.5
rest=$(left | tr '\n' ' ')
check "and every process it started (left: ${rest:-none})" '[[ -z $rest ]]'
if ((fails)); then
    echo "--- demo output"
    cat "$dir/demo.out"
    tail -30 "$app/tray.log" 2>/dev/null || true
fi
echo "$passes passed, $fails failed"
exit $((fails > 0))
