#!/usr/bin/env python3
"""The README test: what README.md tells a user to type must work, as typed.

    python3 scripts/readme_test.py [--bin PATH]     (scripts/readme-test.sh runs it)

Every block of README.md is accounted for, and the report lists each one with what happened:

- Shell blocks (```sh, ```bash, bare ``` and 4-space blocks starting with `lakepass`) run line by
  line against one `lakepass devstack`, each in a throwaway home. A block that needs a real IdP,
  workspace or account runs against the devstack's equivalent: its placeholders are filled in, and
  where a real service is named the test says which devstack value it used (an "adapter", keyed
  by the block's first command, below). Only a block marked `<!-- readme-test: skip (why) -->`
  may be skipped, and its reason is printed.
- TOML examples are parsed with Python's tomllib, then loaded by `lakepass` itself: the full
  config example on its own, each fragment appended to it, the team file through `setup`.
- INI examples are parsed with configparser and compared with the profile Lakepass really
  writes (section suffix, keys, value shapes).
- The CLI reference table: each `--flag` it documents is in that command's `--help`; the exit
  codes it lists are `lakepass --help`'s; `token --json` keys and `status --json` states are the
  ones it names.

Any disagreement is a DRIFT naming the README line, and the script exits 1.
"""

import argparse
import configparser
import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

try:
    import tomllib
except ImportError:  # Python < 3.11 (Ubuntu 22.04's 3.10)
    sys.exit("readme-test: needs Python 3.11 or newer (tomllib parses the README's TOML)")
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
LINE_TIMEOUT = 90

# Values for the README's placeholders when a command only writes them down.
PLACEHOLDERS = {
    "<tenant-id>": "11111111-2222-3333-4444-555555555555",
    "<tenant>": "11111111-2222-3333-4444-555555555555",
    "<app-id>": "66666666-7777-8888-9999-000000000000",
    "<client id>": "66666666-7777-8888-9999-000000000000",
    "<sp-application-id>": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
    "<sp application id>": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
    "<account id>": "00000000-0000-0000-0000-00000000acc7",
}
README_DEV_HOST = "https://adb-1234567890123456.7.azuredatabricks.net"
# What the devstack serves (crates/devstack/src/mcp.rs) in place of the README's example Genie
# space and search index.
DEVSTACK_IDS = {"01ef1234abcd": "01devstackgenie", "main.docs.chunks_idx": "main.docs.faq"}


@dataclass
class Block:
    line: int  # 1-based line of the opening fence (or of the first indented line)
    lang: str
    body: list
    skip: str | None = None

    def commands(self):
        return [b for b in self.body if b.strip() and not b.strip().startswith("#")]


@dataclass
class Report:
    rows: list = field(default_factory=list)
    drifts: list = field(default_factory=list)

    def row(self, block, verdict):
        self.rows.append((block.line, block.lang or "text", verdict))
        print(f"readme-test: README.md:{block.line} {block.lang or 'text'}: {verdict}", flush=True)

    def drift(self, what):
        self.drifts.append(what)
        print(f"readme-test: DRIFT: {what}", file=sys.stderr, flush=True)


def parse_blocks(text):
    lines = text.split("\n")
    blocks, i = [], 0

    def marker(j):
        while j >= 0 and not lines[j].strip():
            j -= 1
        m = re.match(r"\s*<!--\s*readme-test:\s*skip\s*(.*?)\s*-->", lines[j]) if j >= 0 else None
        return (m.group(1) or "no reason given") if m else None

    while i < len(lines):
        line = lines[i]
        fence = re.match(r"^```(\w*)\s*$", line)
        if fence:
            lang, start, body = fence.group(1), i, []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            blocks.append(Block(start + 1, lang, body, marker(start - 1)))
        elif (line.startswith("    ") and line.strip().startswith("lakepass")
              and (i == 0 or not lines[i - 1].strip() or "readme-test:" in lines[i - 1])):
            start, body = i, []
            while i < len(lines) and lines[i].startswith("    "):
                body.append(lines[i][4:])
                i += 1
            blocks.append(Block(start + 1, "sh", body, marker(start - 1)))
            continue
        i += 1
    return blocks


def fill(text):
    for k, v in PLACEHOLDERS.items():
        text = text.replace(k, v)
    return text


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Home:
    """A throwaway HOME with every path Lakepass and the Databricks tools read inside it."""

    def __init__(self, root, name, bin_dir, config=True):
        self.dir = Path(root) / name
        self.dir.mkdir(parents=True)
        browser = self.dir / "browser.sh"
        # The user's browser, as a script: follows the sign-in link to the auto-approving devstack.
        browser.write_text('#!/bin/sh\nexec curl -sSL --max-time 30 -o /dev/null "$1"\n')
        browser.chmod(0o755)
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("DATABRICKS_", "LAKEPASS_", "XDG_", "DBUS_", "ANTHROPIC_"))
                    and k not in ("BROWSER", "DISPLAY", "WAYLAND_DISPLAY", "HTTPS_PROXY", "HTTP_PROXY",
                                  "https_proxy", "http_proxy")}
        self.env.update(HOME=str(self.dir), XDG_CONFIG_HOME=str(self.dir / ".config"),
                        XDG_DATA_HOME=str(self.dir / ".local/share"), LAKEPASS_DATA_DIR=str(self.dir / "data"),
                        LAKEPASS_VAULT="file", DATABRICKS_CONFIG_FILE=str(self.dir / ".databrickscfg"),
                        PATH=f"{bin_dir}:{os.environ.get('PATH', '')}", NO_COLOR="1", BROWSER=str(browser))
        if config:
            self.env["LAKEPASS_CONFIG"] = str(self.dir / "lp.toml")

    @property
    def config(self):
        return Path(self.env.get("LAKEPASS_CONFIG", self.dir / ".config/lakepass/config.toml"))

    def run(self, cmd, stdin=None, timeout=LINE_TIMEOUT):
        return subprocess.run(["bash", "-c", cmd], cwd=self.dir, env=self.env, input=stdin, text=True,
                              capture_output=True, timeout=timeout)

    def run_pty(self, cmd, timeout=LINE_TIMEOUT):
        """Runs `cmd` on a terminal (the README's interactive commands), answering its questions
        as a user who agrees would: "y" to a `[y/N]`, and a host's own address where it asks to
        have it typed. Returns (exit code, everything it printed)."""
        pid, fd = pty.fork()
        if pid == 0:
            os.chdir(self.dir)
            os.execve("/bin/bash", ["bash", "-c", cmd], self.env)
        out, end, answered_at = b"", time.monotonic() + timeout, 0
        while time.monotonic() < end:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
                if len(out) != answered_at and out.endswith(b"[y/N] "):
                    os.write(fd, b"y\n")
                    answered_at = len(out)
                elif len(out) != answered_at and out.endswith(b"anything else to stop: "):
                    last = out.decode(errors="replace").splitlines()[-1]
                    os.write(fd, last.split(" (")[0].strip().encode() + b"\n")
                    answered_at = len(out)
        else:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


class ReadmeTest:
    def __init__(self, binary):
        self.bin = Path(binary).resolve()
        self.root = Path(tempfile.mkdtemp(prefix="lakepass-readme-"))
        self.bin_dir = self.root / "bin"
        self.bin_dir.mkdir()
        (self.bin_dir / "lakepass").symlink_to(self.bin)
        self.report = Report()
        self.text = README.read_text(encoding="utf-8")
        self.blocks = parse_blocks(self.text)
        self.devstack = None
        self.homes = 0
        peers = Path(os.environ.get("LAKEPASS_PEERS_DIR", REPO / "tests/peers"))
        self.python = peers / ".venv/bin/python"

    # --- the devstack every block runs against -------------------------------------------------

    def start_devstack(self):
        home = self.home("devstack")
        out = open(home.dir / "devstack.err", "w")
        self.devstack = subprocess.Popen(
            [str(self.bin), "devstack", "--auto-approve", "you@example.com", "--write-config", str(home.config)],
            env=home.env, stdout=subprocess.PIPE, stderr=out, text=True, start_new_session=True)
        line = self.devstack.stdout.readline()
        if not line:
            sys.exit("readme-test: the devstack did not start: " + (home.dir / "devstack.err").read_text())
        self.info = json.loads(line)
        self.base_config = home.config.read_text()
        self.hosts = {w["name"]: w["host"] for w in self.info["workspaces"]}

    def stop(self):
        if self.devstack and self.devstack.poll() is None:
            os.killpg(self.devstack.pid, signal.SIGTERM)
            try:
                self.devstack.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.devstack.pid, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)

    def home(self, name=None, config=True):
        self.homes += 1
        return Home(self.root, f"{self.homes:02d}-{name or 'home'}", self.bin_dir, config)

    def devstack_home(self, name, extra=""):
        """A home whose config is the one `devstack --write-config` wrote (plus `extra`)."""
        h = self.home(name)
        h.config.write_text(self.base_config + extra)
        return h

    def login_like_the_readme(self, h):
        """`lakepass login --no-browser`, then `curl -L` the URL it prints (the README's way)."""
        p = subprocess.Popen(["lakepass", "login", "--no-browser", "--timeout", "60"], cwd=h.dir, env=h.env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        url = None
        for line in p.stderr:
            if re.match(r"^https?://", line.strip()):
                url = line.strip()
                break
        if url is None:
            p.wait(10)
            return False
        subprocess.run(["curl", "-sSL", "--max-time", "30", "-o", "/dev/null", url], check=False)
        p.stderr.read()
        return p.wait(60) == 0

    # --- running lines -------------------------------------------------------------------------

    def run_line(self, block, h, cmd, shown=None):
        """Runs one command; a failure is a drift naming the README line."""
        r = h.run(cmd)
        print(f"  $ {shown or cmd}", flush=True)
        if r.returncode != 0:
            self.report.drift(f"README.md:{block.line}: `{shown or cmd}` exited {r.returncode}:\n"
                              f"{(r.stdout + r.stderr)[-1500:]}")
        return r

    def run_block_plain(self, block, h):
        for cmd in block.commands():
            self.run_line(block, h, fill(cmd))
        return f"ran {len(block.commands())} line(s)"

    # --- adapters: blocks that name a real IdP, workspace or account ---------------------------

    def adapt_first_use(self, block):
        """`idp add --preset entra …`, `workspace add … azuredatabricks.net`, `login`, …: run as
        written (placeholders filled) in a newcomer's home, then pointed at the devstack's IdP
        and workspace before the sign-in, so the rest runs for real."""
        h = self.home("first-use", config=False)
        notes = []
        for cmd in block.commands():
            line = fill(cmd)
            if line.startswith("databricks "):
                if shutil.which("databricks"):
                    self.run_line(block, h, line)
                elif self.python.exists():
                    profile = re.search(r"--profile (\S+)", line).group(1)
                    sdk = (f"{self.python} -c \"from databricks.sdk import WorkspaceClient; "
                           f"print(WorkspaceClient(profile='{profile}').current_user.me().user_name)\"")
                    r = self.run_line(block, h, sdk, shown=f"{line}   [as the Databricks Python SDK: the Go CLI is "
                                      "distributed through GitHub releases only]")
                    if r.returncode == 0 and "you@example.com" not in r.stdout:
                        self.report.drift(f"README.md:{block.line}: `{line}` answered {r.stdout.strip()!r}")
                    notes.append("`databricks … current-user me` through the Python SDK (same profile)")
                else:
                    self.may_skip(block, f"`{line}`: neither the Databricks CLI nor the peers' Python SDK")
                continue
            self.run_line(block, h, line)
            if line.startswith("lakepass idp add corp"):
                self.run_line(block, h, f"lakepass idp add corp --replace --issuer {self.info['issuer']} "
                                        f"--client-id {self.info['client_id']}",
                              shown="[devstack] lakepass idp add corp --replace --issuer <devstack> --client-id <devstack>")
                notes.append("IdP pointed at the devstack's")
            if line.startswith("lakepass workspace add dev"):
                self.run_line(block, h, f"lakepass workspace add dev --replace --host {self.hosts['dev']}",
                              shown="[devstack] lakepass workspace add dev --replace --host <devstack dev>")
                notes.append("workspace pointed at the devstack's")
        return f"ran {len(block.commands())} line(s) in a new home ({'; '.join(notes)})"

    def team_file(self):
        """The README's team file (the TOML block that starts `# acme.toml`), for the devstack."""
        for b in self.blocks:
            if b.lang == "toml" and b.body and b.body[0].startswith("# acme.toml"):
                text = "\n".join(b.body) + "\n"
                text = re.sub(r'issuer = "[^"]*"', f'issuer = "{self.info["issuer"]}"', text)
                text = text.replace("<app-id>", self.info["client_id"]).replace(README_DEV_HOST, self.hosts["dev"])
                return text
        return None

    def adapt_team_setup(self, block):
        """`lakepass setup acme.toml …` with the README's own team file, its IdP and host being
        the devstack's; the interactive line on a terminal, answering yes."""
        team = self.team_file()
        if team is None:
            self.report.drift(f"README.md:{block.line}: no team file example (```toml starting `# acme.toml`)")
            return "no team file"
        for cmd in block.commands():
            h = self.home("team", config=True)
            (h.dir / "acme.toml").write_text(team)
            line = fill(cmd)
            print(f"  $ {line}", flush=True)
            if "--yes" in line:
                # The devstack's hosts are loopback, not Databricks domains: a script names them.
                trusted = line.split("#")[0].rstrip() + f" --trust-host {self.hosts['dev']}"
                print(f"    [devstack: {trusted}]", flush=True)
                r = h.run(trusted)
                code, out = r.returncode, r.stdout + r.stderr
            else:
                code, out = h.run_pty(line)
            if code != 0:
                self.report.drift(f"README.md:{block.line}: `{line}` exited {code}:\n{out[-1500:]}")
                continue
            listed = h.run("lakepass workspace list").stdout
            if "analytics" not in listed:
                self.report.drift(f"README.md:{block.line}: `{line}` added no workspace `analytics`: {listed}")
            signed_in = "--no-login" not in line
            status = json.loads(h.run("lakepass status --json").stdout or "{}")
            states = {w["name"]: w["state"] for w in status.get("workspaces", [])}
            if signed_in and states.get("analytics") != "fresh":
                self.report.drift(f"README.md:{block.line}: after `{line}` analytics is {states}")
        return (f"ran {len(block.commands())} line(s), each in a new home with the README's team file "
                "(its IdP and host the devstack's; the interactive one on a terminal, answered yes and with "
                "the host typed; the scripted one naming the host with --trust-host)")

    def adapt_admin(self, block):
        """`lakepass admin -w robot …`: the devstack's service principal as `robot` (M2M), its
        account console, its JWKS as jwks.json."""
        sp = self.info["service_principal"]
        robot = (f'\n[workspace.robot]\nauth = "m2m"\nhost = "{self.hosts["dev"]}"\nclient_id = "{sp["client_id"]}"\n'
                 f'account_id = "{self.info["account_id"]}"\naccount_host = "{self.info["account_host"]}"\n'
                 'profile = "robot"\n')
        h = self.devstack_home("admin", robot.replace("[workspace.robot]", "[workspace.robot]", 1))
        h.config.write_text(h.config.read_text().replace("[idp.devstack]", "[idp.corp]").replace(
            'idp = "devstack"', 'idp = "corp"'))
        if h.run("lakepass workspace set-secret robot", stdin=sp["client_secret"] + "\n").returncode != 0:
            self.report.drift(f"README.md:{block.line}: could not give robot its secret")
        jwks = subprocess.run(["curl", "-sS", self.info["issuer"].rstrip("/") + "/.well-known/openid-configuration"],
                              capture_output=True, text=True).stdout
        jwks_uri = json.loads(jwks)["jwks_uri"]
        (h.dir / "jwks.json").write_text(subprocess.run(["curl", "-sS", jwks_uri], capture_output=True, text=True).stdout)
        subs = {"<application id>": sp["client_id"], "<value>": "partner-robot"}
        said = ""
        for cmd in block.commands():
            line = fill(cmd)
            for k, v in subs.items():
                line = line.replace(k, v)
            if "<numeric id>" in line:
                # The numeric id is what the account answered when the policy above was made.
                numeric = re.search(r"servicePrincipals/(\d+)|\"service_principal_id\":\s*(\d+)", said)
                if numeric is None:
                    self.report.drift(f"README.md:{block.line}: `sp-policy create` did not say the numeric id: {said[-600:]}")
                    continue
                line = line.replace("<numeric id>", numeric.group(1) or numeric.group(2))
            r = self.run_line(block, h, line)
            said += r.stdout + r.stderr
        return (f"ran {len(block.commands())} line(s) as the devstack's service principal (`robot`, M2M), "
                "IdP named corp, jwks.json from the devstack's JWKS")

    def adapt_mcp(self, block):
        """`lakepass mcp list`, `doctor --mcp`: the README's `[mcp.dev]` example in the config."""
        example = next((b for b in self.blocks if b.lang == "toml" and b.body and b.body[0].strip() == "[mcp.dev]"), None)
        text = "\n".join(example.body if example else ["[mcp.dev]"])
        # The README's ids are examples; the devstack has one Genie space and one search index.
        for example_id, ours in DEVSTACK_IDS.items():
            text = text.replace(f'"{example_id}"', f'"{ours}"')
        h = self.devstack_home("mcp", "\n" + text + "\n")
        if not self.login_like_the_readme(h):
            self.report.drift(f"README.md:{block.line}: sign-in for the MCP block failed")
        for cmd in block.commands():
            self.run_line(block, h, fill(cmd))
        ids = ", ".join(f"{a} as {b}" for a, b in DEVSTACK_IDS.items())
        return f"ran {len(block.commands())} line(s) with the README's [mcp.dev] example (the devstack's ids: {ids}), signed in"

    def claude(self):
        peers = Path(os.environ.get("LAKEPASS_PEERS_DIR", REPO / "tests/peers"))
        return peers / "node_modules/@anthropic-ai/claude-code-linux-x64/claude"

    def agent_home(self, name, extra=""):
        """A signed-in home whose `claude_path` is the real Claude Code (npm) in print mode,
        recording each run, and whose `$TERMINAL` is a stand-in window: it records its
        environment and runs the command it is given."""
        h = self.home(name)
        runs = h.dir / "claude-runs"
        runs.mkdir()
        wrapper = h.dir / "claude-print.sh"
        wrapper.write_text(f"""#!/bin/sh
# Lakepass asks the installed Claude Code its version: answered, not recorded as a run.
[ "$1" = "--version" ] && exec '{self.claude()}' --version
out={runs}/run-$(date +%s%N)
mkdir -p "$out"
env > "$out/env"
case " $* " in *" -p "*) ;; *) set -- -p "say pong" "$@" ;; esac
CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_TELEMETRY=1 DISABLE_ERROR_REPORTING=1 \\
    timeout 120 '{self.claude()}' --output-format json "$@" > "$out/answer.json" 2> "$out/stderr"
echo $? > "$out/exit"
""")
        wrapper.chmod(0o755)
        terminal = h.dir / "terminal.sh"
        terminal.write_text(f"""#!/bin/sh
env > {h.dir}/terminal-$(date +%s%N).env
[ "$1" = "-e" ] && shift
[ $# -gt 0 ] && exec "$@"
exit 0
""")
        terminal.chmod(0o755)
        h.env["TERMINAL"] = str(terminal)
        h.config.write_text("claude_path = " + json.dumps(str(wrapper)) + "\n" + self.base_config + extra)
        if not self.login_like_the_readme(h):
            self.report.drift(f"sign-in for {name} failed")
        return h, runs

    def adapt_claude(self, block):
        """`lakepass launch claude …`: the real Claude Code (npm), in print mode through a
        recording `claude_path`; `--new-terminal` through a stand-in terminal window."""
        if not self.claude().exists():
            self.may_skip(block, f"no Claude Code at {self.claude()} (scripts/ci-deps.sh installs it)")
            return "skipped: no Claude Code"
        h, runs = self.agent_home("claude")
        for cmd in block.commands():
            line = fill(cmd)
            before = set(runs.iterdir())
            self.run_line(block, h, line)
            end, run = time.monotonic() + 150, None
            while time.monotonic() < end and run is None:
                run = next((r for r in set(runs.iterdir()) - before if (r / "exit").exists()), None)
                time.sleep(0.2)
            if run is None:
                self.report.drift(f"README.md:{block.line}: `{line}` started no Claude Code")
                continue
            answer = (run / "answer.json").read_text()
            if (run / "exit").read_text().strip() != "0" or "pong" not in answer:
                self.report.drift(f"README.md:{block.line}: Claude Code under `{line}` did not answer: "
                                  f"{answer[-400:]} {(run / 'stderr').read_text()[-400:]}")
            ws = re.search(r"-w (\S+)", line)
            env = dict(l.split("=", 1) for l in (run / "env").read_text().splitlines() if "=" in l)
            want = self.hosts[ws.group(1) if ws else "dev"]
            if not env.get("ANTHROPIC_BASE_URL", "").startswith(want):
                self.report.drift(f"README.md:{block.line}: `{line}` aimed Claude Code at {env.get('ANTHROPIC_BASE_URL')}")
        return (f"ran {len(block.commands())} line(s): the real Claude Code answered through each workspace's "
                "gateway (print mode via `claude_path`; the new window a stand-in terminal)")

    def adapt_terminal(self, block):
        """`launch terminal`, `exec`, `env`: a stand-in terminal window, the live service running
        (the preset profile is `<profile>-live`), and `databricks …` as the Python SDK when the
        Go CLI is not installed."""
        h, _ = self.agent_home("terminal", f"\n[serve]\nport = {free_port()}\n")
        daemon = subprocess.Popen(["lakepass", "daemon"], cwd=h.dir, env=h.env, stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            end = time.monotonic() + 30
            while time.monotonic() < end and "-live]" not in (h.dir / ".databrickscfg").read_text():
                time.sleep(0.2)
            for cmd in block.commands():
                line = fill(cmd)
                if "-- databricks " in line and not shutil.which("databricks"):
                    if not self.python.exists():
                        self.may_skip(block, f"`{line}`: neither the Databricks CLI nor the peers' Python SDK")
                        continue
                    sdk = (f"{self.python} -c \"from databricks.sdk import WorkspaceClient; "
                           "print(WorkspaceClient().current_user.me().user_name)\"")
                    r = self.run_line(block, h, line.split("-- databricks ")[0] + "-- " + sdk,
                                      shown=f"{line}   [the command as the Databricks Python SDK]")
                    if r.returncode == 0 and "you@example.com" not in r.stdout:
                        self.report.drift(f"README.md:{block.line}: `{line}` reached {r.stdout.strip()!r}")
                    continue
                before = set(h.dir.glob("terminal-*.env"))
                self.run_line(block, h, line)
                if line.startswith("lakepass launch terminal"):
                    end = time.monotonic() + 20
                    while time.monotonic() < end and not set(h.dir.glob("terminal-*.env")) - before:
                        time.sleep(0.2)
                    new = set(h.dir.glob("terminal-*.env")) - before
                    env = dict(l.split("=", 1) for f in new for l in f.read_text().splitlines() if "=" in l)
                    if env.get("DATABRICKS_HOST", "").rstrip("/") != self.hosts["dev"].rstrip("/") \
                            or not env.get("DATABRICKS_CONFIG_PROFILE", "").endswith("-live"):
                        self.report.drift(f"README.md:{block.line}: `{line}` opened no window preset for dev")
        finally:
            os.killpg(daemon.pid, signal.SIGTERM)
            daemon.wait(20)
        return (f"ran {len(block.commands())} line(s) with the live service running (a stand-in terminal window; "
                "`databricks …` as the Python SDK where the Go CLI is not installed)")

    def adapt_agents(self, block):
        """`launch --list` and `launch <agent> -- <print mode>`: the real agents (npm, pinned in
        tests/peers) on PATH, a signed-in home with the engine running (the proxy agents need
        it), each agent answering through the devstack's gateway."""
        peers = Path(os.environ.get("LAKEPASS_PEERS_DIR", REPO / "tests/peers"))
        agents_bin = peers / "node_modules/.bin"
        if not (agents_bin / "codex").exists():
            self.may_skip(block, f"no coding agents under {agents_bin} (scripts/ci-deps.sh installs them)")
            return "skipped: no coding agents"
        h, _ = self.agent_home("agents", f"\n[serve]\nport = {free_port()}\n")
        h.env["PATH"] = f"{agents_bin}:{h.env['PATH']}"
        daemon = subprocess.Popen(["lakepass", "daemon"], cwd=h.dir, env=h.env, stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            for cmd in block.commands():
                line = fill(cmd)
                if line.startswith("lakepass launch --list"):
                    r = self.run_line(block, h, line)
                    for name in ("claude", "codex", "gemini", "opencode", "copilot", "pi"):
                        row = next((l for l in r.stdout.splitlines() if l.split()[:1] == [name]), "")
                        if name != "claude" and "installed:" not in row:
                            self.report.drift(f"README.md:{block.line}: `{line}` does not show {name} installed: {row!r}")
                    continue
                r = self.run_line(block, h, f"timeout 150 {line}", shown=line)
                if r.returncode == 0 and not r.stdout.strip():
                    self.report.drift(f"README.md:{block.line}: `{line}` answered nothing")
        finally:
            os.killpg(daemon.pid, signal.SIGTERM)
            daemon.wait(20)
        return (f"ran {len(block.commands())} line(s): the real agents (tests/peers) answered through the "
                "devstack's gateway, the engine running")

    def adapt_access_token(self, block):
        """`idp add … --resource`, `workspace add … --token access_token`: run as written in a new
        home; the config must then hold what the README says they write."""
        h = self.home("access-token", config=False)
        for cmd in block.commands():
            self.run_line(block, h, fill(cmd))
        written = h.config.read_text() if h.config.exists() else ""
        for want in ('auth_params = { resource = "api://databricks" }', 'token = "access_token"'):
            if want not in written:
                self.report.drift(f"README.md:{block.line}: the config does not hold `{want}`:\n{written}")
        return f"ran {len(block.commands())} line(s) in a new home; the config holds what the README says"

    ADAPTERS = {
        "lakepass idp add corp --issuer": adapt_access_token,
        "lakepass launch claude": adapt_claude,
        "lakepass launch terminal": adapt_terminal,
        "lakepass launch --list": adapt_agents,
        "lakepass idp add corp --preset": adapt_first_use,
        "lakepass setup acme.toml": adapt_team_setup,
        "lakepass admin -w robot": adapt_admin,
        "lakepass mcp list": adapt_mcp,
    }

    def may_skip(self, block, reason):
        ci = os.environ.get("CI", "").strip() not in ("", "0", "false")
        if ci:
            self.report.drift(f"README.md:{block.line}: {reason} (CI is set: nothing may skip)")
        else:
            print(f"  skipped: {reason}", flush=True)

    # --- the blocks ----------------------------------------------------------------------------

    def shell_blocks(self):
        main = self.devstack_home("main")
        if not self.login_like_the_readme(main):
            self.report.drift("`lakepass login --no-browser` finished with `curl -L` failed")
        self.main = main
        for b in self.blocks:
            if b.lang not in ("sh", "bash", ""):
                continue
            if b.lang == "" and not any(c.strip().startswith(("lakepass", "(", "cargo", "bash")) for c in b.commands()):
                self.report.row(b, "not commands (prose or a tree)")
                continue
            if b.skip:
                self.report.row(b, f"skipped: {b.skip}")
                continue
            first = b.commands()[0] if b.commands() else ""
            adapter = next((f for k, f in self.ADAPTERS.items() if first.startswith(k)), None)
            try:
                verdict = adapter(self, b) if adapter else self.run_block_plain(b, main)
            except subprocess.TimeoutExpired as e:
                self.report.drift(f"README.md:{b.line}: `{e.cmd}` took over {LINE_TIMEOUT} s")
                verdict = "timed out"
            self.report.row(b, verdict)

    def toml_blocks(self):
        full = next((b for b in self.blocks if b.lang == "toml" and any(l.startswith("active =") for l in b.body)), None)
        base = fill("\n".join(full.body)) + "\n" if full else ""
        for b in self.blocks:
            if b.lang != "toml":
                continue
            text = fill("\n".join(b.body)) + "\n"
            try:
                doc = tomllib.loads(text)
            except tomllib.TOMLDecodeError as e:
                self.report.drift(f"README.md:{b.line}: not TOML: {e}")
                self.report.row(b, "does not parse")
                continue
            if b.body and b.body[0].startswith("# acme.toml"):
                self.report.row(b, "parsed (tomllib); loaded by `lakepass setup` in the setup block")
                continue
            whole = text if b is full else base + "\n" + text
            verdict = self.load_config(b, whole, doc)
            self.report.row(b, verdict)

    def load_config(self, block, text, doc):
        h = self.home("toml", config=True)
        h.config.write_text(text)
        r = h.run("lakepass workspace list && lakepass idp list")
        if r.returncode != 0:
            self.report.drift(f"README.md:{block.line}: `lakepass` refuses the example{'' if block.body[0].startswith('active') else ' (appended to the full config example)'}:\n{(r.stdout + r.stderr)[-1200:]}")
            return "parsed (tomllib); REFUSED by lakepass"
        mcp = [ws for ws in doc.get("mcp", {})]
        for ws in mcp:
            r = h.run(f"lakepass mcp list -w {ws} --json")
            if r.returncode != 0:
                self.report.drift(f"README.md:{block.line}: `lakepass mcp list -w {ws}` refuses it:\n{r.stderr[-800:]}")
        how = "on its own" if block.body and block.body[0].startswith("active") else "appended to the full config example"
        return f"parsed (tomllib); loaded by `lakepass workspace list`/`idp list`{' and `mcp list`' if mcp else ''} {how}"

    def ini_blocks(self):
        for b in self.blocks:
            if b.lang != "ini":
                continue
            cp = configparser.ConfigParser(interpolation=None)
            try:
                cp.read_string("\n".join(b.body))
            except configparser.Error as e:
                self.report.drift(f"README.md:{b.line}: not INI: {e}")
                self.report.row(b, "does not parse")
                continue
            self.report.row(b, self.compare_live_profile(b, cp))

    def compare_live_profile(self, block, example):
        """The `-live` profile example against the one a running daemon writes."""
        port = free_port()
        h = self.devstack_home("live", f"\n[serve]\nport = {port}\n")
        if not self.login_like_the_readme(h):
            self.report.drift(f"README.md:{block.line}: sign-in for the live profile failed")
            return "sign-in failed"
        daemon = subprocess.Popen(["lakepass", "daemon"], cwd=h.dir, env=h.env, stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            real, end = None, time.monotonic() + 30
            while time.monotonic() < end and real is None:
                cfg = configparser.ConfigParser(interpolation=None)
                cfg.read(h.dir / ".databrickscfg")
                real = next((cfg[s] for s in cfg.sections() if s.endswith("-live")), None)
                time.sleep(0.2)
        finally:
            os.killpg(daemon.pid, signal.SIGTERM)
            daemon.wait(20)
        if real is None:
            self.report.drift(f"README.md:{block.line}: the daemon wrote no `-live` profile")
            return "no live profile to compare"
        for section in example.sections():
            shown = example[section]
            if not section.endswith("-live"):
                self.report.drift(f"README.md:{block.line}: [{section}] is not a `-live` profile name")
            if set(shown) != set(real):
                self.report.drift(f"README.md:{block.line}: keys {sorted(shown)}, Lakepass writes {sorted(real)}")
            for k in set(shown) & set(real):
                pattern = re.escape(shown[k])
                pattern = pattern.replace(re.escape(README_DEV_HOST), r"https?://[^/\s]+")
                pattern = re.sub(r"127\\\.0\\\.0\\\.1:\d+", r"127\\.0\\.0\\.1:\\d+", pattern)
                pattern = pattern.replace("/dev/", "/[^/]+/").replace(re.escape("<secret>"), r"[A-Za-z0-9_-]{16,}")
                if not re.fullmatch(pattern, real[k]):
                    self.report.drift(f"README.md:{block.line}: `{k} = {shown[k]}` is not the shape Lakepass writes")
        return "parsed (configparser); same section suffix, keys and value shapes as the daemon's own -live profile"

    # --- the CLI reference table ---------------------------------------------------------------

    def reference_table(self):
        rows = [(n + 1, l) for n, l in enumerate(self.text.split("\n")) if re.match(r"^\| `lakepass [a-z]", l)]
        for n, row in rows:
            cell = row.split("|")[1]
            for cmd in re.findall(r"`(lakepass [^`]*)`", cell):
                words = [w for w in re.sub(r"\[[^]]*\]", "", cmd).split("--")[0].replace("\\|", "|").split()[1:]
                         if re.fullmatch(r"[a-z-]+", w)]
                if not words:
                    continue
                path = [words[0]]
                if len(words) > 1 and self.main.run(f"lakepass {words[0]} {words[1]} --help").returncode == 0:
                    path.append(words[1])
                r = self.main.run(f"lakepass {' '.join(path)} --help")
                if r.returncode != 0:
                    self.report.drift(f"README.md:{n}: `lakepass {' '.join(path)} --help` failed")
                    continue
                for flag in sorted(set(re.findall(r"--[a-z][a-z-]*", cmd))):
                    if flag not in r.stdout:
                        self.report.drift(f"README.md:{n}: `lakepass {' '.join(path)}` has no {flag}")
        codes = re.search(r"^Exit codes:(.*(?:\n.+){0,3})", self.text, re.M)
        readme_codes = sorted(set(re.findall(r"`(\d)`", codes.group(1)))) if codes else []
        help_text = self.main.run("lakepass --help").stdout
        help_codes = sorted(set(re.findall(r"^ +(\d) ", help_text.split("Exit codes:")[-1], re.M)))
        if readme_codes != help_codes:
            self.report.drift(f"exit codes: README lists {readme_codes}, `lakepass --help` {help_codes}")
        return len(rows)

    def output_shapes(self):
        h = self.devstack_home("shapes")
        if not self.login_like_the_readme(h):
            self.report.drift("sign-in for the output shapes failed")
            return
        keys = sorted(json.loads(h.run("lakepass token --json").stdout))
        if keys != ["expires_in", "host", "token"]:
            self.report.drift(f'`token --json` keys are {keys}, the README says {{"token","expires_in","host"}}')
        states = [w["state"] for w in json.loads(h.run("lakepass status --json").stdout)["workspaces"]]
        status_row = next((l for l in self.text.split("\n") if l.startswith("| `lakepass status")), "")
        for s in states:
            if f"`{s}`" not in status_row:
                self.report.drift(f"`status --json` state `{s}` is not among the README's states")
        if h.run("lakepass token --check").returncode != 0:
            self.report.drift("`token --check` exits non-zero with a valid token cached")

    def other_blocks(self):
        for b in self.blocks:
            if b.lang not in ("sh", "bash", "", "toml", "ini"):
                self.report.row(b, f"not commands or config ({b.lang}): nothing to run")

    def main_run(self):
        self.start_devstack()
        try:
            self.shell_blocks()
            self.other_blocks()
            self.toml_blocks()
            self.ini_blocks()
            rows = self.reference_table()
            self.output_shapes()
        finally:
            self.stop()
        kinds = {}
        for _, lang, verdict in self.report.rows:
            what = "skipped" if verdict.startswith("skipped") else "checked"
            kinds[(lang, what)] = kinds.get((lang, what), 0) + 1
        summary = ", ".join(f"{lang} {what} {n}" for (lang, what), n in sorted(kinds.items()))
        print(f"readme-test: {len(self.report.rows)} block(s) of {len(self.blocks)}: {summary}; "
              f"{rows} reference row(s) checked", flush=True)
        if len(self.report.rows) != len(self.blocks):
            self.report.drift(f"{len(self.blocks) - len(self.report.rows)} block(s) neither run nor skipped")
        if self.report.drifts:
            print(f"readme-test: README.md and the binary disagree ({len(self.report.drifts)} DRIFT above)",
                  file=sys.stderr)
            return 1
        print("readme-test: ok")
        return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    target = os.environ.get("CARGO_TARGET_DIR", str(REPO / "target"))
    ap.add_argument("--bin", default=os.environ.get("LAKEPASS_BIN", f"{target}/debug/lakepass"))
    a = ap.parse_args()
    if not os.access(a.bin, os.X_OK):
        sys.exit(f"readme-test: no lakepass binary at {a.bin}; run `cargo build -p lakepass-cli` first")
    sys.exit(ReadmeTest(a.bin).main_run())
