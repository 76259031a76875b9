"""The tray's figures, measured as a desktop would see them: this script IS the StatusNotifier
host (as src-tauri/gui-tests/tray_dbus.py is), so it can click the tray's menu.

Run by lakepass-bench (bench/src/tray.rs) under `xvfb-run -a dbus-run-session`, in a bench home
whose config is signed in already:

  python tray_probe.py --app lakepass-tray --config C [--in-process] [--settle 20] [--cpu-window 30]
                       [--opens 5] [--preloaded-opens 5] [--launches 3 --issuer URL --claude PATH]

It starts the app (`--hidden`; with --in-process, `LAKEPASS_TRAY_IN_PROCESS=1`, the one-process
shape), and prints one JSON object:
- memory of the tray process `--settle` seconds after start: RSS, PSS, USS (smaps_rollup) and the
  largest mappings (smaps), its thread count, CPU seconds and voluntary context switches over
  `--cpu-window` seconds;
- `open_ms`: per "Open dashboard" click, the time until the dashboard window is visible
  (xdotool), and `page_ms`: until the page has loaded and asked the host for its view (the
  first `get_view` after the click, in the app's debug log); each followed by closing the window
  as the close button does;
- with `--preloaded-opens N` (split only), after those: `preloaded_open_ms`, per click made after
  the menu opened (dbusmenu `AboutToShow`, as a host sends it) and the preloaded dashboard's page
  has asked for its view (`preload_ms`: from AboutToShow to that `get_view`), the time from the
  click until the window is visible; its page already holds the view, so visible is showing the
  workspaces;
- `launch_ms`: per "Launch Claude Code" click, the time until the workspace's gateway sees Claude
  Code's first request (the devstack's /_devstack/stats, polled every 5 ms), counting every
  process in the chain: the CLI, the terminal, the shell, Claude Code and its apiKeyHelper.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "src-tauri", "gui-tests"))

from dbus_next import BusType  # noqa: E402
from dbus_next.aio import MessageBus  # noqa: E402

from tray_dbus import WATCHER, Watcher, ask_to_close, item_owner, open_item, until  # noqa: E402
from tray_launch import claude_wrapper  # noqa: E402


def smaps(pid):
    """(rss, pss, uss) in KiB from smaps_rollup, and the 10 largest mappings by RSS (name, rss, pss)."""
    roll = {}
    for line in open(f"/proc/{pid}/smaps_rollup"):
        parts = line.split()
        if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
            roll[parts[0][:-1]] = int(parts[1])
    by = {}
    cur = "[anon]"
    for line in open(f"/proc/{pid}/smaps"):
        parts = line.split()
        if not parts:
            continue
        if not parts[0].endswith(":"):
            cur = os.path.basename(parts[5]) if len(parts) > 5 else "[anon]"
            continue
        if parts[0] in ("Rss:", "Pss:"):
            r, p = by.get(cur, (0, 0))
            by[cur] = (r + int(parts[1]), p) if parts[0] == "Rss:" else (r, p + int(parts[1]))
    top = sorted(((n, r, p) for n, (r, p) in by.items()), key=lambda t: -t[1])[:10]
    uss = roll.get("Private_Clean", 0) + roll.get("Private_Dirty", 0)
    return roll.get("Rss", 0), roll.get("Pss", 0), uss, top


def cpu_and_switches(pid):
    stat = open(f"/proc/{pid}/stat").read()
    fields = stat[stat.rindex(")") + 2:].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    switches = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            for line in open(f"/proc/{pid}/task/{t}/status"):
                if line.startswith("voluntary_ctxt_switches:"):
                    switches += int(line.split()[1])
        except OSError:
            pass
    return cpu, switches


def threads(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


def visible_dashboards():
    r = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "^Lakepass$"], capture_output=True, text=True)
    return r.stdout.split()


def get_view_after(log_path, since):
    """The wall-clock time of the first `get_view` the host served after `since`, or None."""
    from datetime import datetime
    for line in open(log_path, errors="replace"):
        if 'dashboard call' in line and 'call="get_view"' in line:
            at = datetime.fromisoformat(line.split()[0].replace("Z", "+00:00")).timestamp()
            if at >= since:
                return at
    return None


def dashboard_children(pid):
    """The tray's `--dashboard` child processes (pids)."""
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        for child in open(f"/proc/{pid}/task/{task}/children").read().split():
            try:
                if "--dashboard" in open(f"/proc/{child}/cmdline").read().split("\0"):
                    found.append(int(child))
            except OSError:
                pass
    return found


def gateway_requests(issuer, workspace):
    with urllib.request.urlopen(issuer.rstrip("/") + "/_devstack/stats", timeout=10) as r:
        return json.load(r)["workspaces"][workspace]["messages_ok"]


async def main(a):
    env = dict(os.environ, LAKEPASS_LOG="info,lakepass_app::remote=debug")
    if a.in_process:
        env["LAKEPASS_TRAY_IN_PROCESS"] = "1"
    if a.launches:
        # Claude Code in print mode through a recording wrapper, in a real xterm (as tray_launch.py).
        records = os.path.join(os.path.dirname(a.config), "claude-runs")
        os.makedirs(records, exist_ok=True)
        wrapper = os.path.join(os.path.dirname(a.config), "claude-print.sh")
        claude_wrapper(wrapper, a.claude, records)
        text = open(a.config).read()
        with open(a.config, "w") as f:
            f.write(f"claude_path = '''{wrapper}'''\nlaunch_dir = '''{os.path.dirname(a.config)}'''\n{text}")
        env.update(TERMINAL="xterm", SHELL="/bin/sh")
    bus = await MessageBus(bus_type=BusType.SESSION).connect()
    watcher = Watcher()
    bus.export("/StatusNotifierWatcher", watcher)
    await bus.request_name(WATCHER)
    log_path = os.path.join(os.path.dirname(a.config), "tray-probe-app.log")
    log = open(log_path, "w")
    started = time.monotonic()
    app = subprocess.Popen([a.app, "--config", a.config, "--hidden"], env=env, stdout=log, stderr=subprocess.STDOUT)
    out = {"mode": "in-process" if a.in_process else "split"}
    try:
        await asyncio.wait_for(watcher.registered.wait(), 60)
        out["registered_ms"] = (time.monotonic() - started) * 1e3
        owner, path = await item_owner(bus, watcher.items[0], app.pid)
        _item, menu = await open_item(bus, owner, path)
        await asyncio.sleep(max(0.0, a.settle - (time.monotonic() - started)))
        rss, pss, uss, top = smaps(app.pid)
        out.update(rss_kib=rss, pss_kib=pss, uss_kib=uss, top=top, threads=threads(app.pid),
                   exe=os.path.basename(os.readlink(f"/proc/{app.pid}/exe")))
        cpu0, sw0 = cpu_and_switches(app.pid)
        await asyncio.sleep(a.cpu_window)
        cpu1, sw1 = cpu_and_switches(app.pid)
        out.update(cpu_s=cpu1 - cpu0, wakeups_per_s=(sw1 - sw0) / a.cpu_window, window_s=a.cpu_window)
        # Again after the window, which holds at least one engine poll: what the idle tray holds
        # once its periodic work ran, not only right after start.
        out["rss_end_kib"] = smaps(app.pid)[0]

        out["open_ms"], out["page_ms"] = [], []
        for _ in range(a.opens):
            t0, wall0 = time.monotonic(), time.time()
            await menu.click("Open dashboard")
            while not visible_dashboards():
                if time.monotonic() - t0 > 30:
                    raise AssertionError("the dashboard did not open in 30 s")
                await asyncio.sleep(0.005)
            out["open_ms"].append((time.monotonic() - t0) * 1e3)
            page = await until("the page's get_view", lambda: asyncio.sleep(0, get_view_after(log_path, wall0)), 30, 0.02)
            out["page_ms"].append((page - wall0) * 1e3)
            await asyncio.sleep(1.0)  # a user looks before closing
            for w in visible_dashboards():
                ask_to_close(int(w))
            await until("the dashboard to close", lambda: asyncio.sleep(0, not visible_dashboards()), 15)
            await asyncio.sleep(0.5)

        out["preloaded_open_ms"], out["preload_ms"] = [], []
        for _ in range(a.preloaded_opens):
            await until("no dashboard process", lambda: asyncio.sleep(0, not dashboard_children(app.pid)), 15)
            t_menu, wall_menu = time.monotonic(), time.time()
            await menu.iface.call_about_to_show(0)
            ready = await until("the preloaded page's get_view", lambda: asyncio.sleep(0, get_view_after(log_path, wall_menu)), 30, 0.02)
            out["preload_ms"].append((ready - wall_menu) * 1e3)
            assert not visible_dashboards(), "the preloaded dashboard is hidden until the click"
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - t_menu)))  # a user reads the menu
            t0 = time.monotonic()
            await menu.click("Open dashboard")
            while not visible_dashboards():
                if time.monotonic() - t0 > 30:
                    raise AssertionError("the preloaded dashboard did not show in 30 s")
                await asyncio.sleep(0.005)
            out["preloaded_open_ms"].append((time.monotonic() - t0) * 1e3)
            await asyncio.sleep(1.0)
            for w in visible_dashboards():
                ask_to_close(int(w))
            await until("the dashboard to close", lambda: asyncio.sleep(0, not visible_dashboards()), 15)

        out["launch_ms"] = []
        for _ in range(a.launches):
            before = gateway_requests(a.issuer, a.workspace)
            t0 = time.monotonic()
            await menu.click("Claude Code")  # in "Launch ▸"
            while gateway_requests(a.issuer, a.workspace) == before:
                if time.monotonic() - t0 > 60:
                    raise AssertionError("Claude Code's request did not arrive in 60 s")
                await asyncio.sleep(0.005)
            out["launch_ms"].append((time.monotonic() - t0) * 1e3)
            await asyncio.sleep(3.0)  # let print mode finish and the terminal close
        await menu.click("Quit Lakepass")
        app.wait(15)
    finally:
        if app.poll() is None:
            app.terminate()
            try:
                app.wait(5)
            except subprocess.TimeoutExpired:
                app.kill()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--app", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--in-process", action="store_true")
    ap.add_argument("--settle", type=float, default=20.0)
    ap.add_argument("--cpu-window", type=float, default=30.0)
    ap.add_argument("--opens", type=int, default=0)
    ap.add_argument("--preloaded-opens", type=int, default=0)
    ap.add_argument("--launches", type=int, default=0)
    ap.add_argument("--issuer")
    ap.add_argument("--workspace")
    ap.add_argument("--claude")
    asyncio.run(main(ap.parse_args()))
