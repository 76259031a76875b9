// The dashboard in the real webview (WebKitWebDriver, no tauri-driver), against the devstack.
//
// Usage (under xvfb-run and dbus-run-session; scripts/ci-ui.sh does this):
//   node ui/e2e/dashboard.e2e.mjs --app target/tray/debug/lakepass-tray --lakepass target/tray/debug/lakepass \
//        --out target/ui-e2e
// Starts a devstack (auto-approve, 20 s tokens) and WebKitWebDriver itself, drives the app
// through sign-in, live countdown, a managed-MCP token fetched as Claude Code's headersHelper does,
// adding a workspace, switching the active one and a background refresh, and saves a screenshot. Prints "N passed, N failed, N not run (of E)".
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Driver } from "./webdriver.mjs";

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

// How many steps a run must make; a run that makes fewer (it aborted) or more fails. Seven always,
// the background refresh with short tokens, the doctor's card with --docs.
const EXPECTED_STEPS = 7 + (ttl <= 30 ? 1 : 0) + (docs ? 1 : 0);
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
  await d.until("the devstack", async () => existsSync(config) && ds.log.includes("devstack running"), 30000);
  info = JSON.parse(ds.log.split("\n").find((l) => l.startsWith("{")));
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
