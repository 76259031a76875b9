// Start at login points at the installed app: the dashboard's switch (its `set_autostart` IPC
// command, as the dashboard calls it, in the real webview over WebKitWebDriver) writes an XDG
// autostart entry that starts this very binary with --hidden, and removes it when turned off.
//
// Usage (under xvfb-run and dbus-run-session; src-tauri/gui-tests/installed.sh runs it against
// /usr/bin/lakepass-tray): node src-tauri/gui-tests/autostart.e2e.mjs --app /usr/bin/lakepass-tray
// Prints "N passed, N failed".
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Driver } from "../../ui/e2e/webdriver.mjs";

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const app = resolve(arg("app", "/usr/bin/lakepass-tray"));
// A free port unless one is given: other WebDriver checks may run on this machine at the same time.
const freePort = () =>
  new Promise((ok) => {
    const srv = createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
const port = Number(arg("port", 0)) || (await freePort());
const home = mkdtempSync(join(tmpdir(), "lakepass-autostart-"));
const env = {
  ...process.env,
  HOME: home,
  XDG_CONFIG_HOME: join(home, ".config"),
  XDG_DATA_HOME: join(home, ".local/share"),
  LAKEPASS_DATA_DIR: join(home, "data"),
  DATABRICKS_CONFIG_FILE: join(home, ".databrickscfg"),
  LAKEPASS_VAULT: "file",
  TAURI_WEBVIEW_AUTOMATION: "true",
};
// The XDG autostart folder; the entry is named after the product (tauri.conf.json productName).
const entry = join(home, ".config", "autostart", "Lakepass.desktop");

let passed = 0;
let failed = 0;
const check = (name, ok, detail) => {
  ok ? passed++ : failed++;
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${ok ? "" : `: ${detail}`}`);
};

const driver = spawn(
  "WebKitWebDriver",
  [`--port=${port}`, "--host=127.0.0.1"],
  { env, stdio: "ignore" },
);
const d = new Driver(`http://127.0.0.1:${port}`);
const setAutostart = (enabled) =>
  d.req("POST", d.s("/execute/async"), {
    script:
      "const done = arguments[arguments.length - 1];" +
      "window.__TAURI_INTERNALS__.invoke('call', { call: { call: 'set_autostart', enabled: arguments[0] } })" +
      ".then(() => done('ok'), (e) => done('error: ' + JSON.stringify(e)));",
    args: [enabled],
  });
try {
  await d.until(
    "WebKitWebDriver",
    async () => (await fetch(`http://127.0.0.1:${port}/status`)).ok,
    15000,
  );
  await d.start(app, ["--config", join(home, "config.toml"), "--show"]);
  await d.until(
    "the dashboard's IPC",
    async () => d.exec("return !!window.__TAURI_INTERNALS__"),
    20000,
  );

  const on = await setAutostart(true);
  const text = existsSync(entry) ? readFileSync(entry, "utf8") : "";
  const exec = (text.match(/^Exec=(.*)$/m) || [])[1] || "";
  check(
    "turning it on writes an autostart entry",
    on === "ok" && text !== "",
    `${on}; ${entry}: ${text}`,
  );
  check(
    `the entry starts ${app} --hidden`,
    exec.replace(/"/g, "").trim() === `${app} --hidden`,
    exec,
  );
  const off = await setAutostart(false);
  check(
    "turning it off removes the entry",
    off === "ok" && !existsSync(entry),
    off,
  );
} catch (e) {
  check("the autostart check ran", false, e.message);
} finally {
  await d.quit();
  driver.kill("SIGTERM");
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed || !passed ? 1 : 0);
