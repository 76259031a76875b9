#!/usr/bin/env bash
# Runs a command under a real Secret Service: a throwaway gnome-keyring, unlocked, on a private
# D-Bus session, both gone when the command ends. Sets LAKEPASS_TEST_KEYRING=1, so
# crates/integration/tests/it/keyring_real.rs runs instead of skipping. `.ci/run` runs the nextest suite
# under it, so the real-keyring case counts with the others; scripts/test-keyring.sh runs that
# case alone.
#   scripts/with-keyring.sh cargo nextest run -p lakepass-integration -E 'test(/^keyring_real::/)'
#
# Needs (Debian): dbus (dbus-run-session), gnome-keyring, libsecret-tools (secret-tool, the
# test's independent check), and libdbus-1-dev + pkg-config to build the keyring crate.
# Nothing here touches a real keyring: the daemon gets its own HOME, data and runtime folders.
set -euo pipefail

if [[ "${1:-}" != "--inside-session" ]]; then
    (($#)) || {
        echo "usage: with-keyring.sh <command> [args…]" >&2
        exit 2
    }
    missing=()
    for tool in dbus-run-session gnome-keyring-daemon secret-tool; do
        command -v "$tool" >/dev/null || missing+=("$tool")
    done
    if ((${#missing[@]})); then
        echo "with-keyring: missing ${missing[*]}; install with:" >&2
        echo "  apt-get install -y dbus gnome-keyring libsecret-tools libdbus-1-dev" >&2
        exit 2
    fi
    exec dbus-run-session -- "$0" --inside-session "$@"
fi
shift

# Now inside the private session bus. The command keeps the real HOME (cargo needs it).
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/home" "$scratch/data" "$scratch/run"
chmod 700 "$scratch/run"

# A non-empty password: with an empty one gnome-keyring tries to show a prompt (TESTING.md).
keyring_env=$(printf 'lakepass-test' | HOME="$scratch/home" XDG_DATA_HOME="$scratch/data" \
    XDG_RUNTIME_DIR="$scratch/run" gnome-keyring-daemon --unlock --components=secrets)
eval "$keyring_env"
for var in $(printf '%s\n' "$keyring_env" | sed -n 's/^\([A-Z_]*\)=.*/\1/p'); do export "$var"; done

# Fail early, with a clear message, if the daemon did not come up on this bus.
for _ in $(seq 50); do
    printf 'ping' | secret-tool store --label='lakepass test probe' service lakepass-test-probe \
        username probe 2>/dev/null && break
    sleep 0.1
done
if [[ $(secret-tool lookup service lakepass-test-probe username probe) != ping ]]; then
    echo "with-keyring: gnome-keyring did not answer on the private session bus" >&2
    exit 1
fi
secret-tool clear service lakepass-test-probe username probe

echo "with-keyring: gnome-keyring is up on $DBUS_SESSION_BUS_ADDRESS"
export LAKEPASS_TEST_KEYRING=1
rc=0
"$@" || rc=$?
exit "$rc"
