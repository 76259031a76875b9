// The dashboard in the real webview (WebKitWebDriver, no tauri-driver), against the devstack.
//
// Usage (under xvfb-run and dbus-run-session; scripts/ci-ui.sh does this):
//   node ui/e2e/dashboard.e2e.mjs --app target/tray/debug/lakepass-tray --lakepass target/tray/debug/lakepass \
//        --out target/ui-e2e
// Starts a devstack (auto-approve, 20 s tokens) and WebKitWebDriver itself, drives the app
// through sign-in, live countdown, a managed-MCP token fetched as Claude Code's headersHelper does,
// adding a workspace, switching the active one, a launch button per installed agent (a non-Claude
// one clicked when this build has one: stand-in agent programs on the app's PATH record how they
// were started) and a background refresh, and saves a screenshot.
// Then accessibility and layout (issues 26 and 28): a failing workspace added and the dialog
// driven by keyboard alone (Tab, Enter, Escape; where focus lands after each action), every card
// checked to fit at 1280, 1040 and 640 px, and axe-core run in the webview on the signed-in page
// with the dialog closed and open, light and dark. Prints "N passed, N failed, N not run (of E)".
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { axeBothThemes, focused, misfits, readingOrder, resize } from "./a11y.mjs";
import { Driver, Keys } from "./webdriver.mjs";

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const app = resolve(arg("app", "target/tray/debug/lakepass-tray"));
const lakepass = resolve(arg("lakepass", "target/tray/debug/lakepass"));
const out = resolve(arg("out", "target/ui-e2e"));
const port = Number(arg("port", "4445"));
// Token lifetime: short (20 s) so a background refresh shows; long for a screenshot for docs.
const ttl = Number(arg("ttl", "20"));
// --docs: a long TTL, a bigger window, and the third workspace unreachable, to show a failure card.
const docs = process.argv.includes("--docs");
mkdirSync(out, { recursive: true });

const home = mkdtempSync(join(tmpdir(), "lakepass-e2e-"));
const config = join(home, "config.toml");
const env = {
  ...process.env,
  HOME: home,
  XDG_CONFIG_HOME: join(home, ".config"),
  XDG_DATA_HOME: join(home, ".local/share"),
  LAKEPASS_DATA_DIR: join(home, "data"),
  DATABRICKS_CONFIG_FILE: join(home, ".databrickscfg"),
  LAKEPASS_VAULT: "file",
  // The sign-in "browser" (a script, below): follows the URL; the devstack auto-approves.
  BROWSER: join(home, "browser.sh"),
  TAURI_WEBVIEW_AUTOMATION: "true",
  LAKEPASS_LOG: "info",
};

writeFileSync(env.BROWSER, `#!/bin/sh\nexec curl -sSL --max-time 20 -o /dev/null "$1"\n`, { mode: 0o755 });

// Stand-ins for every coding agent (`lakepass launch <name>`, what the menu and the buttons call
// it), on the app's PATH: each records its argv and environment under agent-runs/<name>/ and
// answers a version question. The real agents are tested end to end by their own e2e tests.
const AGENTS = { claude: "Claude Code", codex: "Codex", gemini: "Gemini CLI", opencode: "OpenCode", copilot: "Copilot CLI", pi: "Pi" };
const fakebin = join(home, "bin");
const runs = join(home, "agent-runs");
mkdirSync(fakebin);
for (const name of Object.keys(AGENTS))
  writeFileSync(
    join(fakebin, name),
    `#!/bin/sh\n[ "$1" = "--version" ] && { echo "2.1.0 (${name})"; exit 0; }\nd=${runs}/${name}; mkdir -p "$d"\n` +
      `for a in "$@"; do printf '%s\\n' "$a"; done > "$d/args"\nenv > "$d/env.tmp" && mv "$d/env.tmp" "$d/env"\n`,
    { mode: 0o755 },
  );
// A stand-in terminal emulator that runs what it is given (`-e CMD…`: the bundled CLI carrying
// out the launch plan, which becomes the agent).
env.TERMINAL = join(home, "terminal.sh");
writeFileSync(env.TERMINAL, `#!/bin/sh\nif [ "$1" = "-e" ]; then shift; exec "$@"; fi\nsleep 2\n`, { mode: 0o755 });
env.PATH = `${fakebin}:${process.env.PATH ?? "/usr/bin:/bin"}`;

const children = [];
function start(cmd, args, name) {
  const c = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  c.stdout.setEncoding("utf8");
  c.stderr.setEncoding("utf8");
  c.log = "";
  c.stdout.on("data", (d) => (c.log += d));
  c.stderr.on("data", (d) => (c.log += d));
  c.name = name;
  children.push(c);
  return c;
}
function cleanup() {
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
}
process.on("exit", cleanup);
process.on("SIGINT", () => process.exit(130));
process.on("SIGTERM", () => process.exit(143));

// How many steps a run must make; a run that makes fewer (it aborted) or more fails. Eleven
// always (eight, then keyboard, layout and axe), the background refresh with short tokens, the
// doctor's card with --docs.
const EXPECTED_STEPS = 11 + (ttl <= 30 ? 1 : 0) + (docs ? 1 : 0);
const results = [];
async function step(name, f) {
  const t = Date.now();
  try {
    await f();
    results.push([name, true]);
    console.log(`ok   ${name} (${Date.now() - t} ms)`);
  } catch (e) {
    results.push([name, false]);
    console.log(`FAIL ${name}: ${e.message}`);
    throw e;
  }
}

const d = new Driver(`http://127.0.0.1:${port}`);
let info;
try {
  const ds = start(lakepass, ["devstack", "--auto-approve", "e2e@example.com", "--token-ttl", String(ttl), "--write-config", config], "devstack");
  // Its info is one JSON line on stdout, "devstack running" is on stderr: the two pipes are
  // read apart, so wait for the line itself, not for the message printed after it.
  const infoLine = () => ds.log.split("\n").find((l) => l.startsWith("{"));
  await d.until("the devstack", async () => existsSync(config) && ds.log.includes("devstack running") && infoLine(), 30000);
  info = JSON.parse(infoLine());
  // dev offers Claude Code the Databricks SQL MCP server: one token with scope `sql`.
  writeFileSync(config, `${readFileSync(config, "utf8")}\n[mcp.dev]\nsql = true\n`);
  start("WebKitWebDriver", [`--port=${port}`, "--host=127.0.0.1"], "driver");
  await d.until("WebKitWebDriver", async () => (await fetch(`http://127.0.0.1:${port}/status`)).ok, 15000);

  await step("app starts and shows both workspace cards", async () => {
    await d.start(app, ["--config", config, "--show"]);
    if (docs) await d.req("POST", d.s("/window/rect"), { width: 1180, height: 860 }).catch(() => {});
    await d.until("two cards", async () => (await d.findAll("article.card")).length === 2);
    await d.until("signed-out state", async () => (await d.text('[data-testid="state-dev"]')) === "Sign-in needed");
  });

  await step("sign in (browser PKCE, auto-approved) makes both fresh", async () => {
    await d.click('[data-testid="signin-devstack"]');
    for (const ws of ["dev", "prod"]) {
      await d.until(`${ws} fresh`, async () => ["Fresh", "Renewing soon"].includes(await d.text(`[data-testid="state-${ws}"]`)));
    }
  });

  await step("the countdown moves", async () => {
    const a = await d.text('[data-testid="countdown-dev"]');
    await d.until("a different countdown", async () => (await d.text('[data-testid="countdown-dev"]')) !== a, 5000);
  });

  await step("a managed-MCP token shows under its workspace, as `status --json` reports it", async () => {
    // What Claude Code's headersHelper runs; the app's engine answers over its socket.
    execFileSync(lakepass, ["--config", config, "token", "--workspace", "dev", "--scope", "sql", "--headers-json"], { env, stdio: "ignore" });
    const line = '[data-testid="mcp-dev-sql"]';
    await d.until("the MCP line", async () => /^MCP: sql · (\d+ min|<1 min|\d+ h \d\d min) left$/.test(await d.text(line)));
    // The dashboard's clock ticks every second: the line must still read as words after a tick.
    await new Promise((r) => setTimeout(r, 1200));
    if (!/^MCP: sql · .+/.test(await d.text(line))) throw new Error(`after a tick the MCP line reads ${await d.text(line)}`);
    if (await d.exists('[data-testid="mcp-prod"]')) throw new Error("prod has no [mcp.prod] table but lists MCP tokens");
    // The engine refreshes a held token when it is due (20 s tokens): read both sides again then.
    await d.until("the card and status --json to agree", async () => {
      const status = JSON.parse(execFileSync(lakepass, ["--config", config, "status", "--json"], { env, encoding: "utf8" }));
      const row = status.mcp.find((m) => m.workspace === "dev" && m.scope === "sql");
      return row && Number(await d.attr(`${line} .mcp-words`, "data-mcp-expires")) === Math.floor(Date.parse(row.expires_at) / 1000);
    });
  });

  await step("add a third workspace through the form", async () => {
    await d.click('[data-testid="add-workspace"]');
    await d.type('[data-testid="field-name"]', "third");
    await d.type('[data-testid="field-host"]', docs ? "http://127.0.0.1:9" : info.workspaces[0].host);
    await d.type('[data-testid="field-profile"]', "devstack-third");
    await d.click('[data-testid="dialog-save"]');
    await d.until("three cards", async () => (await d.findAll("article.card")).length === 3);
    const want = docs ? ["Refresh failing"] : ["Fresh", "Renewing soon"];
    await d.until(`third: ${want}`, async () => want.includes(await d.text('[data-testid="state-third"]')), 40000);
  });

  await step("switch the active workspace", async () => {
    await d.click('[data-testid="activate-prod"]');
    await d.until("prod active", () => d.exists('[data-testid="active-prod"]'));
    if (await d.exists('[data-testid="active-dev"]')) throw new Error("dev still marked active");
    const text = readFileSync(config, "utf8");
    if (!text.includes('active = "prod"')) throw new Error("config not updated");
  });

  await step("the dashboard agrees with `lakepass status --json` and ~/.databrickscfg", async () => {
    const status = JSON.parse(execFileSync(lakepass, ["--config", config, "status", "--json"], { env, encoding: "utf8" }));
    const cfg = readFileSync(env.DATABRICKS_CONFIG_FILE, "utf8");
    for (const ws of docs ? ["dev", "prod"] : ["dev", "prod", "third"]) {
      const row = status.workspaces.find((w) => w.name === ws);
      if (!row) throw new Error(`status --json has no ${ws}`);
      // The card's countdown and the CLI read the same token: the same expiry, to the second.
      const shown = Number(await d.attr(`[data-testid="countdown-${ws}"]`, "data-expires"));
      const told = Math.floor(Date.parse(row.expires_at) / 1000);
      if (shown !== told) {
        // A background refresh may land between the two reads: read the card once more.
        const again = Number(await d.attr(`[data-testid="countdown-${ws}"]`, "data-expires"));
        const retold = Math.floor(
          Date.parse(
            JSON.parse(execFileSync(lakepass, ["--config", config, "status", "--json"], { env, encoding: "utf8" })).workspaces.find((w) => w.name === ws)
              .expires_at,
          ) / 1000,
        );
        if (again !== retold) throw new Error(`${ws}: the card expires at ${again}, status says ${retold}`);
      }
      if (!["fresh", "expiring", "refreshing"].includes(row.state)) throw new Error(`${ws}: status says ${row.state}`);
      if (!cfg.includes(`[${row.profile}]`) || !cfg.includes(`host = ${row.host}`))
        throw new Error(`${ws}: no [${row.profile}] for ${row.host} in ~/.databrickscfg`);
    }
  });

  await step(
    "a launch button per installed agent on each card (the default first, the terminal last); a non-Claude agent's launches for its card's workspace",
    async () => {
      // What this build launches (`lakepass launch <name>` parses): all of them are on PATH here.
      const known = Object.keys(AGENTS).filter((n) => {
        try {
          execFileSync(lakepass, ["launch", n, "--help"], { env, stdio: "ignore" });
          return true;
        } catch {
          return false;
        }
      });
      const want = [...known, "terminal"];
      for (const ws of docs ? ["dev", "prod"] : ["dev", "prod", "third"]) {
        const got = await d.exec(
          `return [...document.querySelectorAll('[data-testid="card-${ws}"] .actions [data-agent]')].map((b) => [b.dataset.agent, b.getAttribute("aria-label"), b.disabled])`,
        );
        const expect = want.map((n) => [n, n === "terminal" ? `Open terminal for ${ws}` : `Launch ${AGENTS[n]} for ${ws}`, false]);
        if (JSON.stringify(got) !== JSON.stringify(expect)) throw new Error(`${ws}: buttons ${JSON.stringify(got)}, want ${JSON.stringify(expect)}`);
      }
      const other = known.find((n) => n !== "claude");
      if (!other) {
        console.log("     this build launches no agent but Claude Code: no other agent to click (the tray test says so too)");
        return;
      }
      // dev, not the active workspace (prod): the card's own workspace is launched.
      await d.click(`[data-testid="launch-${other}-dev"]`);
      const ran = join(runs, other, "env");
      await d.until(`${other} to start`, async () => existsSync(ran), 60000, 250);
      const agentEnv = Object.fromEntries(
        readFileSync(ran, "utf8")
          .split("\n")
          .filter((l) => l.includes("="))
          .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
      );
      const args = readFileSync(join(runs, other, "args"), "utf8");
      // What the launch told it: its arguments, the variables it set or changed, and the files
      // they name under Lakepass's per-launch overlays (e.g. a CODEX_HOME with its config.toml).
      const overlays = join(home, "data", "launch");
      const told = [args];
      const readAll = (p) => {
        if (statSync(p).isDirectory()) for (const n of readdirSync(p)) readAll(join(p, n));
        else if (statSync(p).size < 1 << 20) told.push(readFileSync(p, "utf8"));
      };
      for (const [k, v] of Object.entries(agentEnv)) {
        if (env[k] === v || ["PWD", "OLDPWD", "SHLVL", "_"].includes(k)) continue;
        told.push(v);
        if (v.startsWith(`${overlays}/`) && existsSync(v)) readAll(v);
      }
      const text = told.join("\n");
      const [dev, prod] = info.workspaces.map((w) => w.host);
      if (!text.includes(dev) || text.includes(prod)) throw new Error(`${other} was not launched for dev: ${JSON.stringify(agentEnv)}`);
      const cfg = readFileSync(env.DATABRICKS_CONFIG_FILE, "utf8");
      const tokens = [...cfg.matchAll(/^token\s*=\s*(\S+)/gm)].map((m) => m[1]);
      if (!tokens.length) throw new Error("no token in ~/.databrickscfg to look for");
      if (tokens.some((t) => args.includes(t) || Object.values(agentEnv).some((v) => v.includes(t))))
        throw new Error(`a token in ${other}'s argv or environment`);
    },
  );

  if (ttl <= 30)
    await step(`a background refresh happens (${ttl} s tokens)`, async () => {
      const before = Number(await d.attr('[data-testid="countdown-dev"]', "data-expires"));
      await d.until("a newer token", async () => Number(await d.attr('[data-testid="countdown-dev"]', "data-expires")) > before, 40000, 500);
      const events = () => d.exec("return document.querySelector('[data-testid=\"events\"]').textContent");
      await d.until("a 'New token' event", async () => (await events()).includes("New token"));
    });

  // The screenshot is an artifact for people, not a check: it is not counted.
  await new Promise((r) => setTimeout(r, docs ? 7000 : 1200));
  writeFileSync(join(out, "dashboard.png"), await d.screenshot());

  if (docs)
    await step("diagnose the failing card (lakepass doctor)", async () => {
      const failing = "third";
      await d.click(`[data-testid="diagnose-${failing}"]`);
      await d.until("the doctor's steps", () => d.exists(`[data-testid="doctor-${failing}"]`), 30000);
      await d.exec(`document.querySelector('[data-testid="doctor-${failing}"]').scrollIntoView()`);
      writeFileSync(join(out, "dashboard-doctor.png"), await d.screenshot());
    });

  // Accessibility and layout (issues 26 and 28).
  const at = () => focused(d);
  const expectFocus = async (want, after) => {
    // A redraw may still be on its way after the key: wait for the focus to settle there.
    await d
      .until(`focus on ${want} after ${after}`, async () => (await at()) === want, 10000, 100)
      .catch(async () => {
        throw new Error(`after ${after}, focus is on ${await at()}, not ${want}`);
      });
  };
  /** Tabs forward (by keyboard) until `want` has the focus; returns the controls passed. */
  const tabTo = async (want, max = 60) => {
    const passed = [];
    for (let i = 0; i < max; i++) {
      await d.keys(Keys.Tab);
      const now = await at();
      passed.push(now);
      if (now === want) return passed;
    }
    throw new Error(`Tab never reached ${want}; it went ${passed.join(" → ")}`);
  };
  const dialogOpen = () => d.exists('[role="dialog"][aria-modal="true"]');

  await step("keyboard alone: the dialog opens, keeps focus inside, closes by Escape and by Save, focus back on the opener after each action", async () => {
    await resize(d, 1280, 800);
    await d.exec("document.activeElement?.blur()");
    // From the top of the page: Refresh now comes first, then on to "+ Add workspace".
    const path = await tabTo("add-workspace");
    if (path[0] !== "refresh-now") throw new Error(`the first Tab stop is ${path[0]}, not refresh-now`);
    await d.keys(Keys.Enter);
    await d.until("the dialog", dialogOpen);
    await expectFocus("field-name", "Enter on + Add workspace");
    if (!(await d.exec('return ["HEADER","MAIN"].every((t) => document.querySelector(t).closest("[inert]"))')))
      throw new Error("the page behind the dialog is not inert");
    // Tab cycles inside: as many Tabs as the dialog has stops come back to the first field.
    const stops =
      await d.exec(`return [...document.querySelectorAll('[role="dialog"] input:not([disabled]), [role="dialog"] select, [role="dialog"] button, [role="dialog"] summary')]
      .filter((e) => !e.closest("details:not([open])") || e.tagName === "SUMMARY").length`);
    for (let i = 0; i < stops; i++) {
      await d.keys(Keys.Tab);
      if (!(await d.exec('return !!document.activeElement.closest("[role=dialog]")'))) throw new Error(`Tab ${i + 1} left the dialog for ${await at()}`);
    }
    await expectFocus("field-name", `${stops} Tabs (the dialog's ${stops} stops)`);
    await d.keys([Keys.Shift, Keys.Tab]);
    await expectFocus("dialog-save", "Shift+Tab from the first field");
    await d.keys(Keys.Escape);
    await d.until("the dialog to close", async () => !(await dialogOpen()));
    await expectFocus("add-workspace", "Escape");
    // Again, filled in and saved by keyboard: a workspace that cannot be reached (port 9).
    await d.keys(Keys.Enter);
    await d.until("the dialog", dialogOpen);
    await expectFocus("field-name", "Enter on + Add workspace");
    await d.keys(..."broken");
    await d.keys(Keys.Tab);
    await expectFocus("field-host", "Tab");
    await d.keys(..."http://127.0.0.1:9", Keys.Enter);
    await d.until("the dialog to close after Save", async () => !(await dialogOpen()), 20000);
    await expectFocus("add-workspace", "Enter (Save)");
    await d.until("broken failing", async () => /refresh failing$/i.test(await d.text('[data-testid="state-broken"]').catch(() => "")), 60000, 500);
    if (!(await d.exists('[data-testid="events"] li.warn [data-testid="event-warning"]'))) throw new Error("no warning event says 'Warning'");
    // Edit by keyboard, Escape: back on that Edit.
    await tabTo("edit-broken");
    if ((await d.attr('[data-testid="edit-broken"]', "aria-label")) !== "Edit broken") throw new Error("Edit has no name with its workspace");
    await d.keys(Keys.Enter);
    await d.until("the edit dialog", dialogOpen);
    await expectFocus("field-host", "Enter on Edit broken");
    await d.keys(Keys.Escape);
    await expectFocus("edit-broken", "Escape in the edit dialog");
    // Make active: the button goes away, focus goes to the card's title.
    await d.keys([Keys.Shift, Keys.Tab]);
    await expectFocus("activate-broken", "Shift+Tab from Edit broken");
    await d.keys(Keys.Enter);
    await d.until("broken active", () => d.exists('[data-testid="active-broken"]'));
    await expectFocus("title-broken", "Enter on Make active");
    // Diagnose: disabled while the doctor runs, focus back on it when done.
    await tabTo("diagnose-broken");
    await d.keys(Keys.Enter);
    await d.until("the doctor's steps", () => d.exists('[data-testid="doctor-broken"]'), 40000);
    await expectFocus("diagnose-broken", "Enter on Diagnose");
    // Refresh now: from the top, disabled while it runs, focus back on it when done.
    await d.exec("document.activeElement?.blur()");
    await d.keys(Keys.Tab);
    await expectFocus("refresh-now", "Tab from the top");
    await d.keys(Keys.Enter);
    await d.until("the refresh to end", async () => (await d.text('[data-testid="refresh-now"]')) === "Refresh now", 40000);
    await expectFocus("refresh-now", "Enter on Refresh now");
  });

  await step(
    "every card fits at 1280, 1040 and 640 px: nothing wider than its card, no sideways scroll (and the check sees a path that cannot wrap)",
    async () => {
      // Long, unbreakable paths in Settings, as a real home directory can give.
      const bad = [];
      for (const [w, hgt] of [
        [1280, 800],
        [1040, 760],
        [640, 480],
      ]) {
        await resize(d, w, hgt);
        const [cards, out] = await misfits(d);
        console.log(`     layout ${w}×${hgt}: ${cards} cards checked, ${out.length} misfits`);
        for (const o of out) bad.push(`${w}px: ${o}`);
        if (cards < 7) bad.push(`${w}px: only ${cards} cards found`);
      }
      // The check itself: a Settings path that may not wrap must be caught.
      await resize(d, 1280, 800);
      await d.exec(`const s = document.createElement("style"); s.id = "nowrap"; s.textContent = ".path, .mono { overflow-wrap: normal !important; word-break: normal !important; }";
      document.head.append(s);
      document.querySelector('[data-testid="config-path"]').textContent = "/home/" + "x".repeat(90) + "/.config/lakepass/config.toml";`);
      const [, caught] = await misfits(d);
      await d.exec('document.getElementById("nowrap").remove()');
      if (!caught.some((o) => o.includes("config-path"))) bad.push(`the check did not see an unbreakable config path: ${JSON.stringify(caught)}`);
      if (bad.length) throw new Error(bad.join("; "));
    },
  );

  await step("axe-core finds nothing on the signed-in dashboard (a failing workspace; the dialog closed and open; light and dark)", async () => {
    await resize(d, 1280, 800);
    if (!(await d.exists('[data-testid="problem-broken"]'))) throw new Error("no failing card to check");
    await axeBothThemes(d, "signed-in dashboard");
    // For people: roughly what a screen reader reads on this page, in order (an artifact).
    writeFileSync(join(out, "dashboard-reading-order.txt"), `${await readingOrder(d)}\n`);
    await d.click('[data-testid="edit-broken"]');
    await d.until("the edit dialog", dialogOpen);
    await axeBothThemes(d, "signed-in dashboard, edit dialog open");
    await d.keys(Keys.Escape);
  });
} catch (e) {
  if (!results.some(([, ok]) => !ok)) {
    results.push(["setup", false]);
    console.log(`FAIL setup: ${e.message}`);
  }
  for (const c of children) console.log(`--- ${c.name} log (tail) ---\n${c.log.slice(-3000)}`);
  try {
    writeFileSync(join(out, "dashboard-failure.png"), await d.screenshot());
  } catch {}
} finally {
  await d.quit();
  cleanup();
}
const passed = results.filter(([, ok]) => ok).length;
const failed = results.length - passed;
const notRun = Math.max(EXPECTED_STEPS - results.length, 0);
console.log(`${passed} passed, ${failed} failed, ${notRun} not run (of ${EXPECTED_STEPS})`);
if (results.length > EXPECTED_STEPS) console.log(`ran ${results.length} steps, expected ${EXPECTED_STEPS}: update EXPECTED_STEPS`);
process.exit(failed === 0 && passed === EXPECTED_STEPS ? 0 : 1);
