"""The click, end to end: "Launch ▸ Claude Code" and "Launch ▸ Terminal" from the tray menu, for real.

Run under `xvfb-run -a dbus-run-session -- python3 tray_launch.py --app … --lakepass … --claude …`
(scripts/ci-ui.sh does). Like tray_dbus.py, this test IS the StatusNotifier host. It starts a
devstack and the app, signs in from the menu, and clicks "Launch ▸ Claude Code": the app runs its
sidecar CLI, which opens a real terminal emulator (xterm, from $TERMINAL) running the real Claude
Code (npm), in print mode so it ends. A small wrapper (the config's `claude_path`) adds
`-p "say pong"` and records what Claude Code answered and which environment it got; the
devstack's stats (GET /_devstack/stats) must show the request reached the active workspace with
that workspace's current token, as the apiKeyHelper printed it. Then it switches workspace from
the menu and clicks again: the other workspace's host and token. Then "Launch ▸ Terminal": a shell
in an xterm with the workspace's host and live profile, and no token in any argv or environment
of the terminal or its shell (/proc/<pid>/cmdline and environ). Prints "N passed, N failed, N not run
(of E)" (checks.py).
"""

import argparse
import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

from dbus_next import BusType
from dbus_next.aio import MessageBus

from checks import Checks
from tray_dbus import Watcher, WATCHER, item_owner, open_item, profile_token, until

# How many checks a run must make; a run that makes fewer (it aborted) or more fails.
LAUNCH_CHECKS = 17
checks = Checks(LAUNCH_CHECKS)
check = checks.check

OFFLINE = {"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_TELEMETRY": "1", "DISABLE_ERROR_REPORTING": "1"}


def fingerprint(token):
    """How the devstack records a token it saw (lowercase hex SHA-256)."""
    return hashlib.sha256(token.encode()).hexdigest()


def stats(info):
    with urllib.request.urlopen(info["issuer"].rstrip("/") + "/_devstack/stats", timeout=10) as r:
        return json.load(r)


def proc_text(pid, what):
    try:
        with open(f"/proc/{pid}/{what}", "rb") as f:
            return f.read().replace(b"\0", b"\n").decode(errors="replace")
    except OSError:
        return ""


def processes_of(home):
    """pid → (comm, ppid) of every process whose environment has our HOME."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        if f"HOME={home}\n" not in proc_text(d, "environ") + "\n":
            continue
        try:
            stat = open(f"/proc/{d}/stat").read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        out[int(d)] = (comm, int(stat[stat.rindex(")") + 2:].split()[1]))
    return out


def claude_wrapper(path, claude, record_dir):
    """The config's `claude_path`: real Claude Code in print mode, recording its answer, its
    environment and the names of the processes above it (the terminal)."""
    offline = " ".join(f"{k}={v}" for k, v in OFFLINE.items())
    with open(path, "w") as f:
        f.write(f"""#!/bin/sh
# Lakepass asks the installed Claude Code its version: answered, not recorded as a run.
[ "$1" = "--version" ] && exec '{claude}' --version
n=$(ls {record_dir} | grep -c '^run-' || true)
out={record_dir}/run-$n
mkdir -p "$out"
env > "$out/env"
for a in "$@"; do printf '%s\n' "$a"; done > "$out/args"
p=$$; : > "$out/ancestors"
while [ "$p" -gt 1 ]; do cat /proc/$p/comm >> "$out/ancestors"; p=$(awk '{{print $4}}' /proc/$p/stat); done
{offline} timeout 120 '{claude}' -p "say pong" --output-format json "$@" > "$out/answer.json" 2> "$out/stderr"
echo $? > "$out/exit"
""")
    os.chmod(path, 0o755)


async def main(args):
    home = tempfile.mkdtemp(prefix="lakepass-launch-")
    config = os.path.join(home, "config.toml")
    cfgfile = os.path.join(home, ".databrickscfg")
    records = os.path.join(home, "claude-runs")
    os.makedirs(records)
    browser = os.path.join(home, "browser.sh")
    with open(browser, "w") as f:
        f.write('#!/bin/sh\nexec curl -sSL --max-time 20 -o /dev/null "$1"\n')
    os.chmod(browser, 0o755)
    wrapper = os.path.join(home, "claude-print.sh")
    claude_wrapper(wrapper, args.claude, records)
    env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"),
               XDG_DATA_HOME=os.path.join(home, ".local/share"), LAKEPASS_DATA_DIR=os.path.join(home, "data"),
               DATABRICKS_CONFIG_FILE=cfgfile, LAKEPASS_VAULT="file", BROWSER=browser, LAKEPASS_LOG="info",
               TERMINAL="xterm", SHELL="/bin/sh")
    for k in ("DATABRICKS_TOKEN", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"):
        env.pop(k, None)
    procs = []
    try:
        ds = subprocess.Popen([args.lakepass, "devstack", "--auto-approve", "launch@example.com", "--token-ttl", "3600",
                               "--write-config", config], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(ds)
        info = json.loads(ds.stdout.readline())
        hosts = {w["name"]: w["host"] for w in info["workspaces"]}
        # Top-level keys go before the devstack's tables: Claude Code through the recording
        # wrapper, and helper profiles (whose program must be the app's sidecar CLI).
        text = open(config).read()
        with open(config, "w") as f:
            f.write(f"claude_path = '''{wrapper}'''\nprofile_flavour = \"cli-helper\"\nlaunch_dir = '''{home}'''\n{text}")

        bus = await MessageBus(bus_type=BusType.SESSION).connect()
        watcher = Watcher()
        bus.export("/StatusNotifierWatcher", watcher)
        await bus.request_name(WATCHER)
        applog = open(os.path.join(home, "app.log"), "w")
        app = subprocess.Popen([args.app, "--config", config, "--hidden"], env=env, stdout=applog, stderr=subprocess.STDOUT)
        procs.append(app)
        await asyncio.wait_for(watcher.registered.wait(), 30)
        owner, path = await item_owner(bus, watcher.items[0], app.pid)
        check("the app registers a tray item", owner is not None, watcher.items)
        _item, menu = await open_item(bus, owner, path)

        await menu.click("Sign in to devstack")
        for ws in ("dev", "prod"):
            await until(f"a token for {ws}", lambda ws=ws: asyncio.sleep(0, profile_token(cfgfile, f"devstack-{ws}")), 30)

        sidecar = os.path.realpath(args.sidecar or os.path.join(os.path.dirname(args.app), "lakepass"))
        # The helper profile's databricks_cli_path: <data>/helpers/<id>/lakepass, a link to the
        # sidecar CLI (the Go SDK refuses a program under 1 MiB, so no wrapper script).
        links = [os.path.join(root, n) for root, _, names in os.walk(os.path.join(home, "data", "helpers"))
                 for n in names if n == "lakepass"]
        check("the helper profile names a link to the app's sidecar CLI",
              len(links) == 1 and os.path.islink(links[0]) and os.path.realpath(links[0]) == sidecar
              and links[0] in open(cfgfile).read(), links and [(l, os.path.realpath(l)) for l in links])

        async def launch_and_check(ws, n):
            before = stats(info)["workspaces"][ws]
            await menu.click("Claude Code")
            run = os.path.join(records, f"run-{n}")
            await until(f"Claude Code to answer ({ws})", lambda: asyncio.sleep(0, os.path.exists(os.path.join(run, "exit"))), 150, 0.5)
            code = open(os.path.join(run, "exit")).read().strip()
            answer = open(os.path.join(run, "answer.json")).read()
            check(f"{ws}: the real Claude Code answered through the gateway", code == "0" and '"pong' in answer,
                  f"exit {code}: {answer[-500:]} {open(os.path.join(run, 'stderr')).read()[-500:]}")
            ancestors = open(os.path.join(run, "ancestors")).read().split()
            check(f"{ws}: it ran in a real terminal emulator (xterm)", "xterm" in ancestors, ancestors)
            got = dict(line.split("=", 1) for line in open(os.path.join(run, "env")).read().splitlines() if "=" in line)
            check(f"{ws}: preset for the workspace's gateway", got.get("ANTHROPIC_BASE_URL", "").startswith(hosts[ws])
                  and "ANTHROPIC_AUTH_TOKEN" not in got and "ANTHROPIC_API_KEY" not in got, got.get("ANTHROPIC_BASE_URL"))
            argv = open(os.path.join(run, "args")).read().splitlines()
            settings = json.loads(argv[argv.index("--settings") + 1]) if "--settings" in argv else {}
            helper = settings.get("apiKeyHelper", "")
            check(f"{ws}: its apiKeyHelper is the app's sidecar CLI", helper.lstrip("'").startswith(sidecar)
                  and "token --raw" in helper and ws in helper, helper)
            after = stats(info)["workspaces"][ws]
            current = profile_token(cfgfile, f"devstack-{ws}")
            # The Messages request itself (not Lakepass's own model lookup, which also reaches the
            # workspace) carried the token the apiKeyHelper printed: the current one.
            check(f"{ws}: Claude Code's Messages request carried the current token (from the apiKeyHelper)",
                  after["messages_ok"] > before["messages_ok"] and fingerprint(current) in after["messages_token_fingerprints"]
                  and fingerprint(current) not in before["messages_token_fingerprints"]
                  and after["api_calls_unauthorized"] == before["api_calls_unauthorized"], (before, after))
            return current

        dev_token = await launch_and_check("dev", 0)
        other = stats(info)["workspaces"]["prod"]["api_calls_ok"]
        check("nothing went to the other workspace", other == 0, other)

        await menu.click("prod — ")
        await until("prod active", lambda: asyncio.sleep(0, 'active = "prod"' in open(config).read()), 10)
        prod_token = await launch_and_check("prod", 1)
        check("the second launch used the new workspace's token", prod_token != dev_token
              and fingerprint(dev_token) not in stats(info)["workspaces"]["prod"]["seen_token_fingerprints"])

        # Launch ▸ Terminal: an xterm with a shell, preset for prod; no token anywhere in it.
        before = set(processes_of(home))
        await menu.click("Terminal")

        async def shell_in_xterm():
            ps = processes_of(home)
            xterms = [p for p, (c, _) in ps.items() if c == "xterm" and p not in before]
            shells = [p for p, (c, pp) in ps.items() if pp in xterms and c != "xterm"]
            return (xterms, shells) if shells else None
        xterms, shells = await until("an xterm with a shell", shell_in_xterm, 20)
        shell_env = dict(line.split("=", 1) for line in proc_text(shells[0], "environ").splitlines() if "=" in line)
        check("Launch ▸ Terminal: a shell in a real xterm, with the workspace's host and live profile",
              shell_env.get("DATABRICKS_HOST", "").rstrip("/") == hosts["prod"].rstrip("/")
              and shell_env.get("DATABRICKS_CONFIG_PROFILE") == "devstack-prod-live",
              {k: v for k, v in shell_env.items() if k.startswith("DATABRICKS")})
        tokens = [t for t in (dev_token, prod_token, profile_token(cfgfile, "devstack-prod")) if t]
        leaked = [(p, what) for p in xterms + shells for what in ("cmdline", "environ")
                  if any(t in proc_text(p, what) for t in tokens) or "DATABRICKS_TOKEN=" in proc_text(p, what)]
        check("no token in the terminal's or the shell's argv or environment", not leaked and len(tokens) >= 2, leaked)
        for p in xterms:
            os.kill(p, signal.SIGTERM)

        await menu.click("Quit Lakepass")
        code = await asyncio.get_event_loop().run_in_executor(None, lambda: app.wait(15))
        check("Quit exits cleanly", code == 0, code)
    except Exception as e:  # noqa: BLE001 - every exception is a failure
        checks.crashed(e)
        try:
            print("--- app log (tail) ---\n" + open(os.path.join(home, "app.log")).read()[-3000:])
        except Exception:
            pass
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
        for p, (comm, _) in processes_of(home).items():  # terminals and Claude Code runs left behind
            if p != os.getpid():
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
    return checks.summary()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--app", required=True)
    ap.add_argument("--lakepass", required=True, help="the CLI that runs the devstack")
    ap.add_argument("--sidecar", help="the CLI the app runs (default: `lakepass` beside --app)")
    ap.add_argument("--claude", required=True, help="the native Claude Code program (npm)")
    a = ap.parse_args()
    sys.exit(asyncio.run(main(a)))
