#!/usr/bin/env bash
# Runs crates/core/tests/it/keyring_real.rs against a real Secret Service: a throwaway
# gnome-keyring on a private D-Bus session, both gone when the script ends.
#
# Needs (Debian): dbus (dbus-run-session), gnome-keyring, libsecret-tools (secret-tool, used as
# an independent check), and libdbus-1-dev + pkg-config to build the keyring crate.
# Extra arguments go to `cargo test`, e.g. `scripts/test-keyring.sh -- --nocapture`.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [[ "${1:-}" != "--inside-session" ]]; then
    missing=()
    for tool in dbus-run-session gnome-keyring-daemon secret-tool; do
        command -v "$tool" >/dev/null || missing+=("$tool")
    done
    if ((${#missing[@]})); then
        echo "test-keyring: missing ${missing[*]}; install with:" >&2
        echo "  apt-get install -y dbus gnome-keyring libsecret-tools libdbus-1-dev" >&2
        exit 2
    fi
    # The whole run, build included, is bounded: a hung D-Bus call must fail CI, not stall it.
    exec timeout --kill-after=10 1800 dbus-run-session -- "$0" --inside-session "$@"
fi
shift

# Now inside the private session bus. The keyring daemon gets its own HOME, data and runtime
# folders, so it never sees (or touches) a real keyring; cargo keeps the real HOME.
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
    echo "test-keyring: gnome-keyring did not answer on the private session bus" >&2
    exit 1
fi
secret-tool clear service lakepass-test-probe username probe

echo "test-keyring: gnome-keyring is up on $DBUS_SESSION_BUS_ADDRESS"
cd "$repo"
LAKEPASS_TEST_KEYRING=1 cargo test -p lakepass-core --test it keyring_real:: "$@"
