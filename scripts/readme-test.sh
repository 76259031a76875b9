#!/usr/bin/env bash
# The README test: what README.md documents must be what the `lakepass` binary does.
#
#   bash scripts/readme-test.sh            (uses $LAKEPASS_BIN, else target/debug/lakepass)
#
# In a throwaway home it starts `lakepass devstack --auto-approve … --write-config` (the README's
# way to try Lakepass with no account), signs in by following the sign-in URL with `curl -L` (as
# the README says a script can), and then checks:
# 1. every command block of README.md (```sh/```bash/``` fences and 4-space indented blocks that
#    start with `lakepass`) runs line by line and exits 0, unless the line before the block is
#    `<!-- readme-test: skip (why) -->`; skipped blocks are listed with their reason;
# 2. every command row of the "CLI reference" table: each `--flag` it documents is in that
#    command's `--help`;
# 3. the exit-code sentence under the table and `lakepass --help` list the same codes;
# 4. the output shapes the table documents: `token --json` keys, `status --json` states.
# Any drift fails the script (exit 1) naming the README line.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD
bin=${LAKEPASS_BIN:-${CARGO_TARGET_DIR:-$repo/target}/debug/lakepass}
[[ -x $bin ]] || {
    echo "readme-test: no lakepass binary at $bin; run \`cargo build -p lakepass-cli\` first" >&2
    exit 1
}

home=$(mktemp -d)
devstack_pid=
cleanup() {
    [[ -n $devstack_pid ]] && kill "$devstack_pid" 2>/dev/null || true
    rm -rf "$home"
}
trap cleanup EXIT

# A throwaway home: nothing from the user's own environment leaks in or out.
mkdir -p "$home/bin"
ln -s "$(realpath "$bin")" "$home/bin/lakepass"
export HOME=$home XDG_CONFIG_HOME=$home/.config XDG_DATA_HOME=$home/.local/share
export LAKEPASS_DATA_DIR=$home/data LAKEPASS_VAULT=file DATABRICKS_CONFIG_FILE=$home/.databrickscfg
export LAKEPASS_CONFIG=$home/lp.toml PATH=$home/bin:$PATH NO_COLOR=1
unset XDG_RUNTIME_DIR DBUS_SESSION_BUS_ADDRESS LAKEPASS_LOG

fail=0
drift() {
    echo "readme-test: DRIFT: $*" >&2
    fail=1
}

lakepass devstack --auto-approve you@example.com --write-config "$LAKEPASS_CONFIG" \
    >"$home/devstack.out" 2>"$home/devstack.err" &
devstack_pid=$!
for _ in $(seq 100); do
    [[ -s $LAKEPASS_CONFIG ]] && grep -q devstack "$home/devstack.out" 2>/dev/null && break
    sleep 0.1
done
[[ -s $LAKEPASS_CONFIG ]] || {
    cat "$home/devstack.err" >&2
    echo "readme-test: the devstack wrote no config" >&2
    exit 1
}

# Sign in the way the README says a script can: follow the URL with curl -L.
lakepass login --no-browser --timeout 30 2>"$home/login.err" &
login_pid=$!
url=
for _ in $(seq 100); do
    url=$(grep -m1 -E '^https?://' "$home/login.err" || true)
    [[ -n $url ]] && break
    sleep 0.1
done
[[ -n $url ]] || drift "login --no-browser printed no sign-in URL on its own line on stderr"
curl -sSL -o /dev/null "$url" || drift "curl -L could not follow the sign-in URL"
wait "$login_pid" || {
    cat "$home/login.err" >&2
    drift "lakepass login (finished with curl -L) failed"
}

# 2. The CLI reference table: documented flags are real.
table_rows=$(grep -nE '^\| `lakepass [a-z]' "$repo/README.md" || true)
while IFS= read -r row; do
    [[ -z $row ]] && continue
    n=${row%%:*}
    cell=$(echo "$row" | cut -d'|' -f2)
    # Each `lakepass …` command named in the first cell, with the flags written after it.
    while IFS= read -r cmd; do
        [[ -z $cmd ]] && continue
        words=$(echo "$cmd" | sed -E 's/\[[^]]*\]//g; s/--.*//; s/\\\|/|/g' | awk '{for (i=2;i<=NF;i++) if ($i ~ /^[a-z-]+$/ && $i != "W" ) printf "%s ", $i}')
        sub=$(echo "$words" | awk '{print $1}')
        second=$(echo "$words" | awk '{print $2}')
        help_of=("$sub")
        if [[ -n $second ]] && lakepass "$sub" "$second" --help >/dev/null 2>&1; then help_of+=("$second"); fi
        help=$(lakepass "${help_of[@]}" --help 2>&1) || {
            drift "README.md:$n: \`lakepass ${help_of[*]} --help\` failed"
            continue
        }
        for flag in $(echo "$cmd" | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
            grep -q -- "$flag" <<<"$help" || drift "README.md:$n: \`lakepass ${help_of[*]}\` has no $flag"
        done
    done < <(echo "$cell" | grep -oE '`lakepass [^`]*`' | tr -d '`')
done <<<"$table_rows"

# 3. Exit codes: the README sentence and `lakepass --help` list the same ones.
readme_codes=$(grep -A3 '^Exit codes:' "$repo/README.md" | grep -oE '`[0-9]`' | tr -d '`' | sort -u | tr '\n' ' ')
help_codes=$(lakepass --help | sed -n '/^Exit codes:/,$p' | grep -oE '^ +[0-9] ' | tr -d ' ' | sort -u | tr '\n' ' ')
[[ $readme_codes == "$help_codes" ]] || drift "exit codes: README lists [$readme_codes], \`lakepass --help\` [$help_codes]"

# 4. Output shapes the table documents.
keys=$(lakepass token --json | python3 -c 'import json,sys; print(",".join(sorted(json.load(sys.stdin))))') ||
    drift "\`lakepass token --json\` failed"
[[ $keys == "expires_in,host,token" ]] || drift "\`token --json\` keys are [$keys], the README says {\"token\",\"expires_in\",\"host\"}"
states=$(lakepass status --json | python3 -c 'import json,sys; print(" ".join(w["state"] for w in json.load(sys.stdin)["workspaces"]))')
for s in $states; do
    grep -q "\`$s\`" <<<"$(grep -E '^\| `lakepass status' "$repo/README.md")" ||
        drift "\`status --json\` state \`$s\` is not among the README's states"
done
lakepass token --check || drift "\`token --check\` exits non-zero with a valid token cached"

# 1. Command blocks (last: the README's own block ends with `lakepass logout`).
python3 - "$repo/README.md" >"$home/blocks" <<'EOF'
import re, sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
out, i = [], 0
def marker(j):
    while j >= 0 and not lines[j].strip():
        j -= 1
    m = re.match(r"\s*<!--\s*readme-test:\s*skip\s*(.*?)\s*-->", lines[j]) if j >= 0 else None
    return m.group(1) or "no reason given" if m else None
while i < len(lines):
    line = lines[i]
    fence = re.match(r"^```(\w*)\s*$", line)
    if fence:
        lang, start, body = fence.group(1), i, []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i]); i += 1
        if lang in ("sh", "bash", ""):
            out.append((start + 1, marker(start - 1), body))
    elif line.startswith("    ") and (i == 0 or not lines[i - 1].strip() or "readme-test:" in lines[i - 1]) \
            and line.strip().startswith("lakepass"):
        start, body = i, []
        while i < len(lines) and lines[i].startswith("    "):
            body.append(lines[i][4:]); i += 1
        out.append((start + 1, marker(start - 1), body))
        continue
    i += 1
for start, skip, body in out:
    print(f"BLOCK\t{start}\t{skip or ''}")
    for b in body:
        if b.strip() and not b.strip().startswith("#"):
            print(f"LINE\t{b}")
EOF
ran=0 skipped=0 block_line= block_skip=
while IFS=$'\t' read -r tag a b; do
    case $tag in
    BLOCK)
        block_line=$a block_skip=$b
        if [[ -n $block_skip ]]; then
            echo "readme-test: skip README.md:$block_line $block_skip"
            skipped=$((skipped + 1))
        else
            ran=$((ran + 1))
        fi
        ;;
    LINE)
        [[ -n $block_skip ]] && continue
        echo "readme-test: README.md:$block_line: $a"
        if ! (cd "$home" && timeout 60 bash -c "$a") >"$home/cmd.out" 2>&1 </dev/null; then
            cat "$home/cmd.out" >&2
            drift "README.md:$block_line: \`$a\` failed; fix the README or mark the block <!-- readme-test: skip (why) -->"
        fi
        ;;
    esac
done <"$home/blocks"

echo "readme-test: $ran block(s) ran, $skipped skipped; $(wc -l <<<"$table_rows") reference row(s) checked"
if ((fail)); then
    echo "readme-test: README.md and the binary disagree (see DRIFT above)" >&2
    exit 1
fi
echo "readme-test: ok"
