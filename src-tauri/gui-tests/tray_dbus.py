"""The tray for real: this test IS the StatusNotifier host on a private session bus.

With --headless instead: the app under a bare X server with no D-Bus at all keeps tokens fresh.

Run under `xvfb-run -a dbus-run-session -- python3 tray_dbus.py --app … --lakepass …` (scripts/ci-ui.sh
does). It owns org.kde.StatusNotifierWatcher, starts a devstack and the app, waits for the app's
tray item to register, reads its status, icon and menu (com.canonical.dbusmenu), and drives it:
sign in from the menu, "Refresh now" (the token in ~/.databrickscfg changes), a managed-MCP
token fetched the way Claude Code's headersHelper does (its line shows in the menu), switch
workspace (the check mark and the config move), "Open dashboard", "Launch ▸ Terminal", "Launch ▸"
a coding agent other than Claude Code, then "Quit" (the app exits 0).

"Launch ▸" lists the agents the app finds installed, the default first and the terminal last.
The other agents' real programs are tested end to end by their own e2e tests; here a stand-in
`codex` on the app's PATH records how it was started, so the click → plan → terminal → agent
path is checked for a non-Claude agent: it runs for the active workspace, with no token in its
argv or environment. A build that launches no agent but Claude Code skips that one check (a
failure under CI).

The app is started by WebKitWebDriver (TESTING.md, "WebDriver against the real webview"), so
once "Open dashboard" is clicked over D-Bus, the driver's session reads what the dashboard's
page shows (its DOM, not the window title) and the test checks it against `lakepass status
--json`. The session request is answered only once the app has a webview, so it waits in a
thread while the tray is driven.

On Linux the app is two processes (README, "The tray app"): the started `lakepass-tray` becomes
the bundled CLI's `lakepass tray` (same pid), which must map no GTK, WebKit or LLVM; "Open
dashboard" starts `lakepass-tray --dashboard`, which inherits the driver's environment, so the
driver's session attaches to it; closing its window (WM_DELETE_WINDOW, as a close button sends)
must end that process and leave the tray answering. Opening the menu (dbusmenu `AboutToShow`,
as a host sends it) preloads the dashboard, hidden, in one `--dashboard --preload` process;
"Open dashboard" then shows that process's window, and a preloaded dashboard left unused is let
go (LAKEPASS_DASHBOARD_LINGER_MS, a few seconds here). Prints "N passed, N failed, N not run (of E)" (checks.py). Needs Python
dbus-next.
"""

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from dbus_next import BusType, Variant
from dbus_next.aio import MessageBus
from dbus_next.service import ServiceInterface, dbus_property, method, signal as dbus_signal, PropertyAccess

from checks import Checks

# `lakepass launch <name>` → what the menu calls it (crates/launch/src/plan.rs, `Agent::title`).
AGENT_TITLES = {"claude": "Claude Code", "codex": "Codex", "gemini": "Gemini CLI", "opencode": "OpenCode",
                "copilot": "Copilot CLI", "pi": "Pi"}

WATCHER = "org.kde.StatusNotifierWatcher"


class Watcher(ServiceInterface):
    def __init__(self):
        super().__init__(WATCHER)
        self.items = []
        self.registered = asyncio.Event()

    @method()
    def RegisterStatusNotifierItem(self, service: "s"):
        self.items.append(service)
        self.registered.set()
        self.StatusNotifierItemRegistered(service)

    @method()
    def RegisterStatusNotifierHost(self, service: "s"):
        pass

    @dbus_property(access=PropertyAccess.READ)
    def RegisteredStatusNotifierItems(self) -> "as":
        return self.items

    @dbus_property(access=PropertyAccess.READ)
    def IsStatusNotifierHostRegistered(self) -> "b":
        return True

    @dbus_property(access=PropertyAccess.READ)
    def ProtocolVersion(self) -> "i":
        return 0

    @dbus_signal()
    def StatusNotifierItemRegistered(self, service) -> "s":
        return service

    @dbus_signal()
    def StatusNotifierHostRegistered(self):
        pass


# How many checks each run must make; a run that makes fewer (it aborted) or more fails.
TRAY_CHECKS = 29
HEADLESS_CHECKS = 3
checks = Checks(0)  # replaced by the entry point that runs


def check(name, ok, detail=""):
    checks.check(name, ok, detail)


def flatten(layout, out):
    """dbusmenu layout (id, props, children) → list of dicts, depth first."""
    item_id, props, children = layout
    label = props.get("label").value if "label" in props else ""
    out.append({
        "id": item_id,
        "label": label.replace("_", "") if label else "",
        "enabled": props["enabled"].value if "enabled" in props else True,
        "toggle": props["toggle-state"].value if "toggle-state" in props else None,
        "submenu": props["children-display"].value == "submenu" if "children-display" in props else False,
    })
    for c in children:
        flatten(c.value, out)
    return out


def profile_token(path, profile):
    try:
        text = open(path).read()
    except FileNotFoundError:
        return None
    m = re.search(r"^\[" + re.escape(profile) + r"\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    if not m:
        return None
    t = re.search(r"^token\s*=\s*(\S+)", m.group(1), re.M)
    return t.group(1) if t else None


async def item_owner(bus, path, pid):
    """The connection that owns the registered item: ayatana registers an object path, so it is
    found by the app's pid. Returns (owner or None, object path)."""
    if path.startswith(":") or "/" not in path:
        return path, "/StatusNotifierItem"
    intro = await bus.introspect("org.freedesktop.DBus", "/org/freedesktop/DBus")
    dbus = bus.get_proxy_object("org.freedesktop.DBus", "/org/freedesktop/DBus", intro).get_interface("org.freedesktop.DBus")
    for name in await dbus.call_list_names():
        if name.startswith(":") and await dbus.call_get_connection_unix_process_id(name) == pid:
            try:
                await bus.introspect(name, path)
                return name, path
            except Exception:
                continue
    return None, path


class Menu:
    """The item's menu over com.canonical.dbusmenu: read it, click items by label."""

    def __init__(self, iface):
        self.iface = iface

    async def items(self):
        _rev, layout = await self.iface.call_get_layout(0, -1, [])
        return flatten(layout, [])[1:]  # drop the root

    async def children(self, label):
        """The entries of the submenu called `label`, one level down."""
        _rev, layout = await self.iface.call_get_layout(0, -1, [])
        for it in flatten(layout, [])[1:]:
            if it["submenu"] and it["label"] == label:
                _rev, sub = await self.iface.call_get_layout(it["id"], 1, [])
                return [flatten(c.value, [])[0] for c in sub[2]]
        raise AssertionError(f"no submenu {label!r}: {[i['label'] for i in await self.items()]}")

    async def about_to_show(self):
        """What a host sends as it opens the menu (the root's AboutToShow)."""
        await self.iface.call_about_to_show(0)

    async def click(self, label_prefix):
        for it in await self.items():
            if it["label"].startswith(label_prefix):
                await self.iface.call_event(it["id"], "clicked", Variant("s", ""), 0)
                return it
        raise AssertionError(f"no menu item starting with {label_prefix!r}: {[i['label'] for i in await self.items()]}")


async def open_item(bus, owner, path):
    """(the org.kde.StatusNotifierItem interface, its Menu)."""
    item = bus.get_proxy_object(owner, path, await bus.introspect(owner, path)).get_interface("org.kde.StatusNotifierItem")
    menu_path = await item.get_menu()
    menu_obj = bus.get_proxy_object(owner, menu_path, await bus.introspect(owner, menu_path))
    return item, Menu(menu_obj.get_interface("com.canonical.dbusmenu"))


async def until(what, f, timeout=20.0, every=0.25):
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        last = await f()
        if last:
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


class WebDriver:
    """A minimal W3C WebDriver client for WebKitWebDriver (stdlib only)."""

    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"
        self.session = None

    def req(self, method, path, body=None, timeout=30):
        data = None if body is None else json.dumps(body).encode()
        r = urllib.request.Request(self.base + path, data=data, method=method, headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(r, timeout=timeout) as resp:
                return json.load(resp)["value"]
        except urllib.error.HTTPError as e:
            raise AssertionError(f"WebDriver {method} {path}: {e.code} {e.read()[:300]!r}") from None

    def start(self, binary, args, timeout):
        caps = {"capabilities": {"alwaysMatch": {"webkitgtk:browserOptions": {"binary": binary, "args": args}}}}
        self.session = self.req("POST", "/session", caps, timeout)["sessionId"]

    def js(self, script):
        return self.req("POST", f"/session/{self.session}/execute/sync", {"script": script, "args": []})

    def quit(self):
        if self.session:
            try:
                self.req("DELETE", f"/session/{self.session}", timeout=5)
            except Exception:  # noqa: BLE001 - the app may be gone already
                pass
            self.session = None


# What the dashboard's page shows, read from its DOM: per card, the name, the engine's state (and
# its words), the expiry behind the countdown, the active mark and the managed-MCP lines.
CARDS_JS = """return Array.from(document.querySelectorAll('article.card'), c => ({
  name: c.querySelector('h3').textContent,
  state: c.dataset.state,
  words: c.querySelector('[data-testid^="state-"]').textContent,
  expires: c.querySelector('[data-testid^="countdown-"]').dataset.expires,
  active: c.querySelector('[data-testid^="active-"]') !== null,
  mcp: Array.from(c.querySelectorAll('.mcp-token'), m => ({text: m.textContent, state: m.dataset.state, expires: m.querySelector('.mcp-words').dataset.mcpExpires})),
}));"""


def ask_to_close(window):
    """What a window manager sends for the close button: a WM_DELETE_WINDOW client message
    (ICCCM 4.2.8.1), through libX11 (there is no window manager under Xvfb)."""
    import ctypes
    import ctypes.util

    x = ctypes.CDLL(ctypes.util.find_library("X11"))
    x.XOpenDisplay.restype = ctypes.c_void_p
    x.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x.XInternAtom.restype = ctypes.c_ulong
    x.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
    x.XFlush.argtypes = [ctypes.c_void_p]
    x.XCloseDisplay.argtypes = [ctypes.c_void_p]

    class ClientMessage(ctypes.Structure):
        _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                    ("display", ctypes.c_void_p), ("window", ctypes.c_ulong), ("message_type", ctypes.c_ulong),
                    ("format", ctypes.c_int), ("l", ctypes.c_long * 5)]

    class XEvent(ctypes.Union):
        _fields_ = [("xclient", ClientMessage), ("pad", ctypes.c_long * 24)]

    d = x.XOpenDisplay(None)
    assert d, "cannot open the X display"
    ev = XEvent()
    ev.xclient.type = 33  # ClientMessage
    ev.xclient.window = window
    ev.xclient.message_type = x.XInternAtom(d, b"WM_PROTOCOLS", 0)
    ev.xclient.format = 32
    ev.xclient.l[0] = x.XInternAtom(d, b"WM_DELETE_WINDOW", 0)
    ev.xclient.l[1] = 0  # CurrentTime
    x.XSendEvent(d, window, 0, 0, ctypes.byref(ev))
    x.XFlush(d)
    x.XCloseDisplay(d)


def mapped_libraries(pid):
    """The shared objects a process has mapped (from /proc/<pid>/maps)."""
    with open(f"/proc/{pid}/maps") as f:
        return sorted({line.split()[-1] for line in f if ".so" in line})


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unix(rfc3339):
    """`2026-11-30T02:50:41Z` → unix seconds (what `status --json` writes)."""
    from datetime import datetime
    return int(datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp())


async def main(args):
    global checks
    checks = Checks(TRAY_CHECKS)
    home = tempfile.mkdtemp(prefix="lakepass-tray-")
    config = os.path.join(home, "config.toml")
    cfgfile = os.path.join(home, ".databrickscfg")
    browser = os.path.join(home, "browser.sh")
    with open(browser, "w") as f:
        f.write('#!/bin/sh\nexec curl -sSL --max-time 20 -o /dev/null "$1"\n')
    os.chmod(browser, 0o755)
    # A stand-in terminal emulator: runs the command it is given (`-e CMD…`: an agent's launch);
    # given none (the terminal itself), records the environment it was started with.
    terminal = os.path.join(home, "terminal.sh")
    opened = os.path.join(home, "terminal.out")
    with open(terminal, "w") as f:
        f.write(f'#!/bin/sh\nif [ "$1" = "-e" ]; then shift; exec "$@"; fi\n'
                f'echo "$DATABRICKS_HOST $DATABRICKS_CONFIG_PROFILE" > {opened}\nsleep 2\n')
    os.chmod(terminal, 0o755)
    # A stand-in coding agent other than Claude Code, on the app's PATH: records its argv and
    # environment (a version question is answered, not recorded).
    fakebin = os.path.join(home, "bin")
    os.makedirs(fakebin)
    agent_run = os.path.join(home, "agent-run")
    with open(os.path.join(fakebin, "codex"), "w") as f:
        f.write(f'#!/bin/sh\n[ "$1" = "--version" ] && {{ echo "codex-cli 0.169.0"; exit 0; }}\n'
                f'mkdir -p {agent_run}\nfor a in "$@"; do printf "%s\\n" "$a"; done > {agent_run}/args\n'
                f'env > {agent_run}/env.tmp && mv {agent_run}/env.tmp {agent_run}/env\n')
    os.chmod(os.path.join(fakebin, "codex"), 0o755)
    env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"),
               XDG_DATA_HOME=os.path.join(home, ".local/share"), LAKEPASS_DATA_DIR=os.path.join(home, "data"),
               DATABRICKS_CONFIG_FILE=cfgfile, LAKEPASS_VAULT="file", BROWSER=browser, LAKEPASS_LOG="info",
               TERMINAL=terminal, LAKEPASS_DASHBOARD_LINGER_MS="3000", PATH=fakebin + os.pathsep + os.environ.get("PATH", ""))
    procs = []
    app_pids = []
    wd = None
    try:
        ds = subprocess.Popen([args.lakepass, "devstack", "--auto-approve", "tray@example.com", "--token-ttl", "3600",
                               "--write-config", config], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(ds)
        info = json.loads(ds.stdout.readline())  # the devstack prints its info once it listens
        with open(config, "a") as f:
            f.write("\n[mcp.dev]\nsql = true\n")

        bus = await MessageBus(bus_type=BusType.SESSION).connect()
        watcher = Watcher()
        bus.export("/StatusNotifierWatcher", watcher)
        await bus.request_name(WATCHER)

        # WebKitWebDriver starts the app (through a wrapper that keeps its pid and exit code).
        port = free_port()
        driver = subprocess.Popen(["WebKitWebDriver", f"--port={port}", "--host=127.0.0.1"],
                                  env=dict(env, TAURI_WEBVIEW_AUTOMATION="true"), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        procs.append(driver)
        wd = WebDriver(port)
        await until("WebKitWebDriver", lambda: asyncio.sleep(0, ready(wd)), 15)
        pidfile, codefile = os.path.join(home, "app.pid"), os.path.join(home, "app.code")
        wrapper = os.path.join(home, "app.sh")
        with open(wrapper, "w") as f:
            f.write(f'#!/bin/sh\n"{args.app}" "$@" >>"{home}/app.log" 2>&1 &\necho $! >"{pidfile}"\n'
                    f'wait $!\necho $? >"{codefile}"\n')
        os.chmod(wrapper, 0o755)
        loop = asyncio.get_event_loop()
        session = loop.run_in_executor(None, lambda: wd.start(wrapper, ["--config", config, "--hidden"], 150))
        # Failing before the dashboard opens leaves the request to end when the driver is killed.
        session.add_done_callback(lambda f: f.exception())
        await until("the app to start", lambda: asyncio.sleep(0, os.path.exists(pidfile) and open(pidfile).read().strip()), 30)
        app_pid = int(open(pidfile).read())
        app_pids.append(app_pid)
        await asyncio.wait_for(watcher.registered.wait(), 30)
        path = watcher.items[0]
        check("the app registers a tray item", len(watcher.items) >= 1 and bool(path.strip()), watcher.items)

        owner, path = await item_owner(bus, path, app_pid)
        check("found the item's connection by pid", owner is not None, path)
        # Linux: the app hands the tray to the bundled CLI (`lakepass tray`, same pid) and no
        # toolkit is loaded in the process that stays all day.
        libs = mapped_libraries(app_pid)
        check("the tray process is the bundled CLI's `lakepass tray`",
              os.path.basename(os.readlink(f"/proc/{app_pid}/exe")) == "lakepass"
              and "tray" in open(f"/proc/{app_pid}/cmdline").read().split("\0"), os.readlink(f"/proc/{app_pid}/exe"))
        check("the tray process maps neither GTK nor WebKit",
              not any(re.search(r"lib(gtk-3|webkit2gtk|javascriptcoregtk|LLVM)", l) for l in libs),
              [l for l in libs if "gtk" in l or "webkit" in l or "LLVM" in l])

        item, menu = await open_item(bus, owner, path)
        status = await item.get_status()
        icon0 = await item.get_icon_name()
        check("item status is Active", status == "Active", status)
        items, click = menu.items, menu.click

        labels = [i["label"] for i in await items()]
        check("menu before sign-in", labels[0] == "dev — sign-in needed" and "Sign in to devstack…" in labels
              and "Refresh now" in labels and "Quit Lakepass" in labels and "Open dashboard" in labels, labels)
        refresh = next(i for i in await items() if i["label"] == "Refresh now")
        check("Refresh now is greyed out while signed out", refresh["enabled"] is False, refresh)
        launches_signed_out = await menu.children("Launch")

        await click("Sign in to devstack")
        first = await until("a fresh token in the menu", lambda: first_label_matching(items, r"^dev — .*\bleft$"), 30)
        now = (await items())[0]["label"]
        check("menu after sign-in shows time left", re.search(r"^dev — .*\bleft$", now) is not None
              and "sign-in needed" not in now, f"{first!r}, now {now!r}")
        check("menu offers Sign out", "Sign out of devstack" in [i["label"] for i in await items()])
        # What this build launches (`lakepass launch <name>` parses), found on the app's PATH as
        # a shell would: Claude Code first (the default), then the others in order, the terminal last.
        known = [n for n in AGENT_TITLES if subprocess.run([args.lakepass, "launch", n, "--help"], env=env,
                                                           capture_output=True, timeout=30).returncode == 0]
        found = [n for n in known if shutil.which(n, path=env["PATH"])]
        want = [AGENT_TITLES[n] for n in found if n == "claude"] + [AGENT_TITLES[n] for n in found if n != "claude"] + ["Terminal"]
        launches = await menu.children("Launch")
        check("Launch ▸ lists the installed agents, the default first and Terminal last; greyed out until signed in",
              [c["label"] for c in launches] == want and all(c["enabled"] for c in launches)
              and [c["label"] for c in launches_signed_out] == want and not any(c["enabled"] for c in launches_signed_out),
              (launches, launches_signed_out, want, known))
        icon1 = await item.get_icon_name()
        check("the icon changed with the state", icon1 != icon0, f"{icon0} → {icon1}")
        token0 = await until("a token in ~/.databrickscfg", lambda: asyncio.sleep(0, profile_token(cfgfile, "devstack-dev")))

        await asyncio.sleep(1.1)
        await click("Refresh now")
        token1 = await until("a new token", lambda: asyncio.sleep(0, (lambda t: t if t and t != token0 else None)(profile_token(cfgfile, "devstack-dev"))))
        check("Refresh now mints a new token", token1 != token0)

        # What Claude Code's headersHelper runs for the SQL server: the app's engine answers it
        # over its socket, and the tray shows the token under its workspace.
        subprocess.run([args.lakepass, "--config", config, "token", "--workspace", "dev", "--scope", "sql", "--headers-json"],
                       env=env, check=True, stdout=subprocess.DEVNULL, timeout=30)
        mcp_line = await until("the MCP token's line in the menu", lambda: label_matching(items, r"^\s*MCP sql — \d+ minutes? left$"), 15)
        labels = [i["label"] for i in await items()]
        at = labels.index(mcp_line)
        check("the menu lists the MCP token under its workspace",
              labels.index("Workspace") < at and labels[at - 1].startswith("dev — "), labels)

        # Not named `checks`: that is the global check counter (`global checks` above).
        toggles = {i["label"].split(" — ")[0]: i["toggle"] for i in await items() if i["toggle"] is not None}
        check("Workspace submenu checks the active one", toggles.get("dev") == 1 and toggles.get("prod") == 0, toggles)
        await click("prod — ")
        await until("prod active in the menu", lambda: first_label_matching(items, r"^prod — "), 10)
        toggles = {i["label"].split(" — ")[0]: i["toggle"] for i in await items() if i["toggle"] is not None}
        check("switching moves the check mark and the config", toggles.get("prod") == 1 and 'active = "prod"' in open(config).read(), toggles)

        def dashboard_windows():
            r = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "^Lakepass$"], capture_output=True, text=True)
            return r.stdout.split()

        check("no dashboard window while it is closed (no idle webview)", dashboard_windows() == [], dashboard_windows())
        await click("Open dashboard")
        await until("the dashboard window", lambda: asyncio.sleep(0, dashboard_windows()), 20)
        windows = dashboard_windows()
        check("Open dashboard opens one window", len(windows) == 1, windows)

        # The driver's session comes up with the webview: read what the page shows.
        await asyncio.wait_for(session, 60)
        cards = await until("the dashboard's workspace cards", lambda: asyncio.sleep(0, (lambda c: c if len(c) == 2 else None)(wd.js(CARDS_JS))), 20)
        status = json.loads(subprocess.run([args.lakepass, "--config", config, "status", "--json"], env=env, check=True,
                                           capture_output=True, text=True, timeout=30).stdout)
        told = {w["name"]: w for w in status["workspaces"]}
        shown = {c["name"]: c for c in cards}
        check("the dashboard shows the workspaces `lakepass status --json` lists", sorted(shown) == sorted(told), (shown, told))
        check("each card shows the engine's state and expiry, as `status --json` reports them",
              all(shown[n]["state"] == told[n]["state"] == "fresh" and shown[n]["words"] == "Fresh"
                  and int(shown[n]["expires"]) == unix(told[n]["expires_at"]) for n in told), (cards, status["workspaces"]))
        check("the dashboard marks the workspace the menu made active", [n for n, c in shown.items() if c["active"]] == ["prod"], cards)
        sql = [m for m in status["mcp"] if m["workspace"] == "dev" and m["scope"] == "sql"]
        dash_pid = int(subprocess.run(["xdotool", "getwindowpid", windows[0]], capture_output=True, text=True).stdout)
        check("the dashboard is its own process (`lakepass-tray --dashboard`), not the tray's",
              dash_pid != app_pid and "--dashboard" in open(f"/proc/{dash_pid}/cmdline").read().split("\0"), dash_pid)
        check("the dev card shows its MCP token as `status --json` reports it",
              len(sql) == 1 and len(shown["dev"]["mcp"]) == 1 and shown["prod"]["mcp"] == []
              and re.fullmatch(r"MCP: sql · \d+ min left", shown["dev"]["mcp"][0]["text"]) is not None
              and shown["dev"]["mcp"][0]["state"] == sql[0]["state"] == "fresh"
              and int(shown["dev"]["mcp"][0]["expires"]) == unix(sql[0]["expires_at"]), (shown["dev"]["mcp"], status["mcp"]))

        # Closing the window (as its title bar's close button asks) ends the dashboard's
        # process; the tray stays and answers.
        wd.session = None
        ask_to_close(int(windows[0]))
        await until("the dashboard's process to exit", lambda: asyncio.sleep(0, not os.path.exists(f"/proc/{dash_pid}")
                                                                                 or open(f"/proc/{dash_pid}/stat").read().split()[2] == "Z"), 15)
        alive = os.path.exists(f"/proc/{app_pid}") and "Quit Lakepass" in [i["label"] for i in await items()]
        check("closing the dashboard ends its process; the tray stays and answers", alive and dashboard_windows() == [],
              dashboard_windows())

        # Opening the menu preloads the dashboard, hidden, in its own process; the click shows
        # that process's window; opening the menu again meanwhile starts no second one.
        def dashboard_processes():
            """The tray's `--dashboard` children: [(pid, argv)]."""
            found = []
            for task in os.listdir(f"/proc/{app_pid}/task"):
                for child in open(f"/proc/{app_pid}/task/{task}/children").read().split():
                    try:
                        argv = open(f"/proc/{child}/cmdline").read().split("\0")
                    except OSError:
                        continue
                    if "--dashboard" in argv:
                        found.append((int(child), argv))
            return found

        await menu.about_to_show()
        preloaded = await until("a preloaded dashboard", lambda: asyncio.sleep(0, dashboard_processes()), 20)
        check("opening the menu preloads one dashboard process (--preload), its window hidden",
              len(preloaded) == 1 and "--preload" in preloaded[0][1] and dashboard_windows() == [],
              (preloaded, dashboard_windows()))
        pre_pid = preloaded[0][0]
        await menu.about_to_show()
        await click("Open dashboard")
        await until("the preloaded dashboard's window", lambda: asyncio.sleep(0, dashboard_windows()), 30)
        windows = dashboard_windows()
        shown_pid = int(subprocess.run(["xdotool", "getwindowpid", windows[0]], capture_output=True, text=True).stdout)
        check("Open dashboard shows the preloaded process's window; no second dashboard process",
              len(windows) == 1 and shown_pid == pre_pid and [p for p, _ in dashboard_processes()] == [pre_pid],
              (windows, shown_pid, pre_pid, dashboard_processes()))
        ask_to_close(int(windows[0]))
        await until("the shown dashboard's process to exit", lambda: asyncio.sleep(0, not dashboard_processes()), 15)

        # Left unused, a preloaded dashboard is let go (3 s here, a minute by default).
        await menu.about_to_show()
        unused = await until("another preloaded dashboard", lambda: asyncio.sleep(0, dashboard_processes()), 20)
        await until("the unused dashboard to be let go", lambda: asyncio.sleep(0, not dashboard_processes()), 30)
        check("an unused preloaded dashboard is let go: its process exits, no window was shown",
              len(unused) == 1 and unused[0][0] != pre_pid and not os.path.exists(f"/proc/{unused[0][0]}/exe")
              and dashboard_windows() == [], (unused, dashboard_windows()))

        await click("Terminal")
        prod_host = info["workspaces"][1]["host"]
        got = await until("the terminal to start", lambda: asyncio.sleep(0, os.path.exists(opened) and open(opened).read().strip()), 20)
        check("Launch ▸ Terminal starts the terminal with the active workspace's environment", got.startswith(prod_host), got)

        # A coding agent other than Claude Code, clicked in Launch ▸: planned by the tray, carried
        # out in the (stand-in) terminal by the bundled CLI, which becomes the agent.
        other = [c["label"] for c in await menu.children("Launch") if c["label"] not in ("Claude Code", "Terminal")]
        name = "a coding agent other than Claude Code from Launch ▸ starts for the active workspace, no token in its argv or environment"
        if not other:
            checks.skip(name, f"this build launches no agent but Claude Code (`lakepass launch <name>` parses only {known})")
        else:
            await click(other[0])
            ran = await until(f"{other[0]} to start", lambda: asyncio.sleep(0, os.path.exists(os.path.join(agent_run, "env"))), 60)
            agent_env = dict(l.split("=", 1) for l in open(os.path.join(agent_run, "env")).read().splitlines() if "=" in l)
            agent_args = open(os.path.join(agent_run, "args")).read()
            dev_host = info["workspaces"][0]["host"]
            # What the launch told it: its arguments, the variables it set or changed, and the
            # files they name.
            told = agent_args + said_in({k: v for k, v in agent_env.items() if env.get(k) != v and k not in ("PWD", "OLDPWD", "SHLVL", "_")},
                                        os.path.join(home, "data", "launch"))
            tokens = [t for t in (profile_token(cfgfile, "devstack-dev"), profile_token(cfgfile, "devstack-prod")) if t]
            leaked = [t for t in tokens if t in agent_args or any(t in v for v in agent_env.values())]
            check(name, ran and other[0] == "Codex" and prod_host in told and dev_host not in told
                  and agent_env.get("DATABRICKS_CONFIG_PROFILE", "devstack-prod-live") == "devstack-prod-live"
                  and len(tokens) == 2 and not leaked,
                  (other, {k: v for k, v in agent_env.items() if "DATABRICKS" in k or "CODEX" in k}, agent_args, leaked))

        await click("Quit Lakepass")
        code = await until("the app to exit", lambda: asyncio.sleep(0, os.path.exists(codefile) and open(codefile).read().strip()), 15)
        check("Quit exits cleanly", code == "0", code)
    except Exception as e:  # noqa: BLE001 - every exception is a failure
        checks.crashed(e)
        try:
            print("--- app log (tail) ---\n" + open(os.path.join(home, "app.log")).read()[-3000:])
        except Exception:
            pass
    finally:
        if wd is not None:
            wd.quit()
        for pid in app_pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
    return checks.summary()


def said_in(agent_env, overlays, limit=1 << 20):
    """Everything in `agent_env` (what a launch set), with the text of the files and folders its
    values name under `overlays` (Lakepass's per-launch agent config, e.g. a CODEX_HOME with
    its config.toml), as one string."""
    out = list(agent_env.values())
    for v in agent_env.values():
        if not os.path.realpath(v).startswith(os.path.realpath(overlays) + os.sep):
            continue
        paths = [v] if os.path.isfile(v) else [os.path.join(r, n) for r, _, ns in os.walk(v) for n in ns]
        for p in paths[:200]:
            try:
                if os.path.getsize(p) < limit:
                    out.append(open(p, errors="replace").read())
            except OSError:
                pass
    return "\n".join(out)


def ready(wd):
    try:
        return wd.req("GET", "/status", timeout=2).get("ready", True) is not False
    except Exception:  # noqa: BLE001 - not listening yet
        return False


async def label_matching(items, pattern):
    return next((i["label"] for i in await items() if re.search(pattern, i["label"])), None)


async def first_label_matching(items, pattern):
    its = await items()
    return its[0]["label"] if its and re.search(pattern, its[0]["label"]) else None


def headless(args):
    """No tray host, no notification server, not even a session bus: the app still runs, and its
    engine keeps tokens fresh (10 s tokens; the token in ~/.databrickscfg must change)."""
    global checks
    checks = Checks(HEADLESS_CHECKS)
    home = tempfile.mkdtemp(prefix="lakepass-headless-")
    config = os.path.join(home, "config.toml")
    cfgfile = os.path.join(home, ".databrickscfg")
    browser = os.path.join(home, "browser.sh")
    with open(browser, "w") as f:
        f.write('#!/bin/sh\nexec curl -sSL --max-time 20 -o /dev/null "$1"\n')
    os.chmod(browser, 0o755)
    env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"), LAKEPASS_DATA_DIR=os.path.join(home, "data"),
               DATABRICKS_CONFIG_FILE=cfgfile, LAKEPASS_VAULT="file", BROWSER=browser)
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    procs = []
    try:
        ds = subprocess.Popen([args.lakepass, "devstack", "--auto-approve", "h@example.com", "--token-ttl", "10",
                               "--write-config", config], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(ds)
        ds.stdout.readline()
        subprocess.run([args.lakepass, "--config", config, "login", "--timeout", "20"], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
        token0 = profile_token(cfgfile, "devstack-dev")
        check("signed in with the CLI", token0 is not None)
        log = open(os.path.join(home, "app.log"), "w")
        app = subprocess.Popen([args.app, "--config", config, "--hidden"], env=env, stdout=log, stderr=subprocess.STDOUT)
        procs.append(app)
        end = time.monotonic() + 30
        token = token0
        while time.monotonic() < end and token == token0 and app.poll() is None:
            time.sleep(0.5)
            token = profile_token(cfgfile, "devstack-dev")
        check("the app runs with no bus, tray host or notification server", app.poll() is None, app.poll())
        check("and refreshes the token by itself", token not in (None, token0))
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
    return checks.summary()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--app", required=True)
    ap.add_argument("--lakepass", required=True)
    ap.add_argument("--headless", action="store_true", help="the no-bus check instead of the tray check")
    a = ap.parse_args()
    sys.exit(headless(a) if a.headless else asyncio.run(main(a)))
