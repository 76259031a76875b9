import type { Backend } from "./api";
import { Dashboard } from "./app";
import type { AppError, AppEvent, AppView, PresetView, TeamPlan } from "./types";

const NOW = 1_700_000_000;

function view(): AppView {
  return {
    workspaces: [
      {
        name: "dev",
        host: "https://dev.example.com",
        profile: "dev",
        idp: "corp",
        scopes: ["all-apis"],
        token: "id_token",
        client_id: null,
        state: "fresh",
        expires_at: NOW + 3000,
        refresh_due_at: NOW + 2600,
        last_error: null,
        hint: null,
        mcp: [],
      },
      {
        name: "prod",
        host: "https://prod.example.com",
        profile: "prod",
        idp: "corp",
        scopes: ["sql", "serving"],
        token: "id_token",
        client_id: null,
        state: "failed",
        expires_at: NOW + 600,
        refresh_due_at: NOW,
        last_error: { kind: "network", message: "connection refused" },
        hint: "The workspace could not be reached.",
        mcp: [],
      },
    ],
    idps: [
      {
        name: "corp",
        issuer: "https://login.example.com/",
        client_id: "lp",
        scopes: ["openid"],
        redirect_port: 0,
        signed_in: true,
        signing_in: false,
        workspaces: ["dev", "prod"],
      },
    ],
    active: "dev",
    config_path: "/home/u/.config/lakepass/config.toml",
    config_error: null,
    first_run: false,
    vault: "OS keyring (service lakepass)",
    vault_fallback: null,
    at: NOW,
    warnings: [],
    agents: [
      { name: "claude", title: "Claude Code" },
      { name: "terminal", title: "Terminal" },
    ],
  };
}

const PRESETS: PresetView[] = [
  {
    name: "entra",
    label: "Microsoft Entra ID",
    fields: [{ key: "tenant", label: "Tenant ID or domain", placeholder: "contoso.onmicrosoft.com", required: true }],
    redirect_uri: "http://127.0.0.1/callback",
  },
  {
    name: "keycloak",
    label: "Keycloak",
    fields: [
      { key: "url", label: "Keycloak URL", placeholder: "https://sso.example.com", required: true },
      { key: "realm", label: "Realm", placeholder: "corp", required: true },
    ],
    redirect_uri: "http://127.0.0.1:8400/callback",
  },
];

const TEAM_PLAN: TeamPlan = {
  entries: [
    { section: "idp", name: "acme", change: "add", fields: [{ key: "issuer", team: '"https://login.acme.example/"', yours: null }] },
    { section: "workspace", name: "analytics", change: "add", fields: [] },
  ],
  sign_in: ["acme"],
  hosts: [
    { host: "https://login.acme.example", role: "idp", named_by: ["idp.acme"], needs_confirmation: false },
    { host: "https://collector.example", role: "workspace", named_by: ["workspace.analytics"], needs_confirmation: true },
  ],
};

/** A first run: no config, nothing set up. */
function empty(): AppView {
  return { ...view(), workspaces: [], idps: [], active: null, config_error: "no Lakepass config at /x; create one with `lakepass idp add`", first_run: true };
}

function fake(v: AppView = view()) {
  const calls: [string, ...unknown[]][] = [];
  let current = v;
  let viewCb: (v: AppView) => void = () => {};
  const b: Backend & { calls: typeof calls; push(v: AppView): void; fail?: AppError } = {
    calls,
    push(v) {
      current = v;
      viewCb(v);
    },
    getView: async () => current,
    getEvents: async (): Promise<AppEvent[]> => [
      { at: NOW - 60, level: "info", workspace: "dev", text: "New token, valid for 1 h 00 min" },
      { at: NOW - 30, level: "warn", workspace: "prod", text: "Refresh failed: connection refused" },
    ],
    setActive: async (n) => {
      calls.push(["setActive", n]);
      current = { ...current, active: n };
    },
    refreshNow: async () => {
      calls.push(["refreshNow"]);
    },
    signIn: async (i) => {
      calls.push(["signIn", i]);
      return "ada@example.com";
    },
    signOut: async (i) => {
      calls.push(["signOut", i]);
    },
    saveWorkspace: async (n, w, r) => {
      calls.push(["saveWorkspace", n, w, r]);
      if (b.fail) throw b.fail;
    },
    removeWorkspace: async (n) => {
      calls.push(["removeWorkspace", n]);
    },
    saveIdp: async (n, i, r) => {
      calls.push(["saveIdp", n, i, r]);
    },
    removeIdp: async (n) => {
      calls.push(["removeIdp", n]);
    },
    launch: async (a, w) => {
      calls.push(["launch", a, w]);
      if (b.fail && a !== "terminal") throw b.fail;
    },
    diagnose: async (w) => ({
      workspace: w,
      host: null,
      ok: false,
      steps: [
        { id: "idp", title: "Identity provider", status: "ok", detail: "discovery and JWKS answer" },
        {
          id: "exchange",
          title: "Token exchange",
          status: "failed",
          detail: "the workspace refused: invalid audience",
          fix: "Add lakepass to the policy's audiences",
        },
      ],
    }),
    getAutostart: async () => false,
    setAutostart: async (on) => {
      calls.push(["setAutostart", on]);
    },
    idpPresets: async () => PRESETS,
    saveIdpPreset: async (n, f) => {
      calls.push(["saveIdpPreset", n, f]);
      if (b.fail) throw b.fail;
    },
    workspaceHost: async (u) => {
      calls.push(["workspaceHost", u]);
      if (!u.startsWith("https://")) throw { kind: "invalid", message: `\`${u}\` must use https://`, field: "host" };
      return new URL(u).origin;
    },
    previewTeam: async (n) => {
      calls.push(["previewTeam", n]);
      return TEAM_PLAN;
    },
    importTeam: async (n, _t, r, trusted) => {
      calls.push(["importTeam", n, r, trusted]);
      return TEAM_PLAN;
    },
    tryLocally: async () => {
      calls.push(["tryLocally"]);
    },
    onView: (cb) => {
      viewCb = cb;
    },
    onEvents: () => {},
  };
  return b;
}

async function mount(b = fake(), now = () => NOW) {
  const root = document.createElement("div");
  document.body.replaceChildren(root);
  const d = new Dashboard(root, b, now);
  await d.start();
  d.stop();
  return { root, d, b };
}

const q = (root: HTMLElement, id: string) => root.querySelector<HTMLElement>(`[data-testid="${id}"]`);
const flush = () => new Promise((r) => setTimeout(r, 0));

describe("dashboard", () => {
  it("shows one card per workspace with state, countdown, scopes and hint", async () => {
    const { root } = await mount();
    expect(root.querySelectorAll("article.card")).toHaveLength(2);
    expect(q(root, "state-dev")!.textContent).toBe("Fresh");
    expect(q(root, "countdown-dev")!.textContent).toBe("50:00");
    expect(q(root, "active-dev")).not.toBeNull();
    expect(q(root, "card-prod")!.textContent).toContain("serving");
    expect(q(root, "problem-prod")!.textContent).toContain("could not be reached");
    expect(q(root, "events")!.textContent).toContain("New token");
  });

  it("the countdown moves with the clock", async () => {
    let now = NOW;
    const { root, d } = await mount(fake(), () => now);
    now += 61;
    d.tick();
    expect(q(root, "countdown-dev")!.textContent).toBe("48:59");
  });

  it("the MCP lines' minutes move with the clock, the big countdown stays a countdown", async () => {
    let now = NOW;
    const { root, d, b } = await mount(fake(), () => now);
    const v = view();
    v.workspaces[0].mcp = [
      { scope: "sql", servers: ["databricks-sql"], state: "fresh", expires_at: NOW + 52 * 60 + 10, refresh_due_at: NOW + 2800, last_error: null },
    ];
    b.push(v);
    expect(q(root, "mcp-dev-sql")!.textContent).toBe("MCP: sql · 52 min left");
    now += 61;
    d.tick();
    expect(q(root, "mcp-dev-sql")!.textContent).toBe("MCP: sql · 51 min left");
    expect(q(root, "countdown-dev")!.textContent).toBe("48:59");
    now = NOW + 52 * 60 + 10;
    d.tick();
    expect(q(root, "mcp-dev-sql")!.textContent).toBe("MCP: sql · expired, renewed on next use");
  });

  it("follows new views pushed by the app", async () => {
    const { root, b } = await mount();
    const v = view();
    v.workspaces[0].state = "needs_login";
    v.idps[0].signed_in = false;
    b.push(v);
    expect(q(root, "state-dev")!.textContent).toBe("Sign-in needed");
    expect(q(root, "signin-corp")).not.toBeNull();
  });

  it("switches the active workspace and signs in", async () => {
    const { root, b } = await mount();
    q(root, "activate-prod")!.click();
    await flush();
    expect(b.calls).toContainEqual(["setActive", "prod"]);
    const v = view();
    v.idps[0].signed_in = false;
    b.push(v);
    q(root, "signin-corp")!.click();
    await flush();
    expect(b.calls).toContainEqual(["signIn", "corp"]);
    // The notice names who signed in (issue 23 M1: a sign-in as someone else shows).
    expect(q(root, "notice")!.textContent).toContain("Signed in to corp as ada@example.com.");
  });

  it("checks the add-workspace form for missing fields before saving", async () => {
    const { root, b } = await mount();
    q(root, "add-workspace")!.click();
    (q(root, "field-name") as HTMLInputElement).value = "dev";
    (q(root, "field-host") as HTMLInputElement).value = " ";
    q(root, "dialog-workspace")!.dispatchEvent(new Event("submit", { cancelable: true }));
    await flush();
    expect(q(root, "error-name")).not.toBeNull();
    expect(q(root, "error-host")).not.toBeNull();
    expect(b.calls.find((c) => c[0] === "saveWorkspace")).toBeUndefined();
    // What was typed survives the re-render.
    expect((q(root, "field-name") as HTMLInputElement).value).toBe("dev");
  });

  it("shows the core's verdict at the field it names", async () => {
    const { root, b } = await mount();
    b.fail = { kind: "invalid", message: "`bad name` is not a valid name; use only letters, digits, `-` and `_`", field: "workspace.bad name.name" };
    q(root, "add-workspace")!.click();
    (q(root, "field-name") as HTMLInputElement).value = "bad name";
    (q(root, "field-host") as HTMLInputElement).value = "https://staging.example.com";
    q(root, "dialog-workspace")!.dispatchEvent(new Event("submit", { cancelable: true }));
    await flush();
    await flush();
    expect(b.calls.find((c) => c[0] === "saveWorkspace")).toBeDefined();
    expect(q(root, "error-name")?.textContent).toContain("not a valid name");
    expect((q(root, "field-name") as HTMLInputElement).value).toBe("bad name");
  });

  it("saves a valid workspace and closes the form", async () => {
    const { root, b } = await mount();
    q(root, "add-workspace")!.click();
    (q(root, "field-name") as HTMLInputElement).value = "staging";
    (q(root, "field-host") as HTMLInputElement).value = "https://staging.example.com";
    q(root, "dialog-workspace")!.dispatchEvent(new Event("submit", { cancelable: true }));
    await flush();
    await flush();
    expect(b.calls).toContainEqual([
      "saveWorkspace",
      "staging",
      { idp: "corp", host: "https://staging.example.com", scopes: ["all-apis"], token: "id_token", client_id: null, profile: null },
      false,
    ]);
    expect(q(root, "dialog-workspace")).toBeNull();
  });

  it("shows the backend's verdict on the field it names", async () => {
    const b = fake();
    b.fail = { kind: "invalid", message: "profile `staging` is also used by workspace `dev`", field: "workspace.staging.profile" };
    const { root } = await mount(b);
    q(root, "add-workspace")!.click();
    (q(root, "field-name") as HTMLInputElement).value = "staging";
    (q(root, "field-host") as HTMLInputElement).value = "https://staging.example.com";
    q(root, "dialog-workspace")!.dispatchEvent(new Event("submit", { cancelable: true }));
    await flush();
    await flush();
    expect(q(root, "error-profile")!.textContent).toContain("also used");
    expect(q(root, "dialog-workspace")).not.toBeNull();
  });

  it("shows a config problem and a file-vault warning", async () => {
    const v = view();
    v.config_error = "no Lakepass config at /x";
    v.vault_fallback = "no Secret Service";
    const { root } = await mount(fake(v));
    expect(q(root, "config-error")!.textContent).toContain("no Lakepass config");
    expect(root.textContent).toContain("Secrets are in a plain file");
  });

  it("toggles autostart", async () => {
    const { root, b } = await mount();
    const box = q(root, "autostart") as HTMLInputElement;
    expect(box.checked).toBe(false);
    box.checked = true;
    box.dispatchEvent(new Event("change"));
    await flush();
    expect(b.calls).toContainEqual(["setAutostart", true]);
  });

  it("a launch that fails for want of a sign-in offers the sign-in, not just the error", async () => {
    const { root, b } = await mount();
    b.fail = { kind: "needs_login", message: "not signed in to corp; sign in first", field: null };
    const launch = Array.from(q(root, "card-dev")!.querySelectorAll<HTMLButtonElement>("button")).find((x) => x.textContent === "Launch Claude Code")!;
    launch.click();
    await flush();
    expect(q(root, "notice")!.textContent).toContain("not signed in to corp");
    const action = q(root, "notice-action")!;
    expect(action.textContent).toBe("Sign in to corp");
    action.click();
    await flush();
    expect(b.calls).toContainEqual(["signIn", "corp"]);
    b.fail = { kind: "network", message: "the workspace could not be reached", field: null };
    launch.click();
    await flush();
    expect(q(root, "notice")!.textContent).toContain("could not be reached");
    expect(q(root, "notice-action")).toBeNull();
  });

  it("diagnoses a failing workspace with the doctor's steps", async () => {
    const { root } = await mount();
    expect(q(root, "diagnose-dev")).toBeNull();
    q(root, "diagnose-prod")!.click();
    await flush();
    const doc = q(root, "doctor-prod")!;
    expect(doc.querySelectorAll("li")).toHaveLength(2);
    expect(doc.textContent).toContain("Add lakepass to the policy's audiences");
  });
});

describe("first run: the guided set-up", () => {
  const submit = (root: HTMLElement, id: string) => q(root, id)!.dispatchEvent(new Event("submit", { cancelable: true }));
  const type = (root: HTMLElement, id: string, value: string) => ((q(root, id) as HTMLInputElement).value = value);

  it("opens on the set-up instead of telling the user to run CLI commands", async () => {
    const { root } = await mount(fake(empty()));
    expect(q(root, "setup")).not.toBeNull();
    expect(q(root, "config-error")).toBeNull();
    expect(root.textContent).not.toContain("lakepass idp add");
    expect(q(root, "step-idp")!.className).toBe("current");
    // The preset's own fields, from the core's table: Entra asks for the tenant.
    expect(q(root, "field-tenant")).not.toBeNull();
    expect(root.textContent).toContain("http://127.0.0.1/callback");
  });

  it("a preset's fields follow the choice, and the core's answer shows at its field", async () => {
    const b = fake(empty());
    const { root } = await mount(b);
    const select = q(root, "setup-preset") as HTMLSelectElement;
    select.value = "keycloak";
    select.dispatchEvent(new Event("change"));
    expect(q(root, "field-tenant")).toBeNull();
    expect(q(root, "field-realm")).not.toBeNull();
    type(root, "field-url", "https://sso.example.com");
    b.fail = { kind: "invalid", message: "Enter the Realm (for example corp).", field: "realm" };
    submit(root, "setup-idp-form");
    await flush();
    await flush();
    expect(b.calls).toContainEqual(["saveIdpPreset", "corp", { preset: "keycloak", values: { url: "https://sso.example.com", realm: "" }, client_id: "" }]);
    expect(q(root, "error-realm")!.textContent).toContain("Realm");
    expect((q(root, "field-url") as HTMLInputElement).value).toBe("https://sso.example.com");
  });

  it("walks IdP → workspace URL (checked by the core) → sign-in → first token", async () => {
    const b = fake(empty());
    const { root } = await mount(b);
    type(root, "field-tenant", "contoso.onmicrosoft.com");
    type(root, "field-client_id", "app-1");
    submit(root, "setup-idp-form");
    await flush();
    expect(b.calls).toContainEqual(["saveIdpPreset", "corp", { preset: "entra", values: { tenant: "contoso.onmicrosoft.com" }, client_id: "app-1" }]);

    const withIdp = { ...empty(), first_run: false, config_error: null, idps: [{ ...view().idps[0], workspaces: [], signed_in: false }] };
    b.push(withIdp);
    expect(q(root, "step-workspace")!.className).toBe("current");
    type(root, "field-host", "http://adb-1.example.net/browse?o=1");
    submit(root, "setup-workspace-form");
    await flush();
    await flush();
    expect(q(root, "error-host")!.textContent).toContain("https://");
    expect(b.calls.find((c) => c[0] === "saveWorkspace")).toBeUndefined();
    type(root, "field-host", "https://adb-1.example.net/browse?o=1");
    submit(root, "setup-workspace-form");
    await flush();
    await flush();
    expect(b.calls).toContainEqual([
      "saveWorkspace",
      "dev",
      { idp: "corp", host: "https://adb-1.example.net", scopes: [], token: null, client_id: null, profile: null },
      false,
    ]);

    const waiting = view();
    waiting.idps[0].signed_in = false;
    for (const w of waiting.workspaces) w.state = "needs_login";
    b.push(waiting);
    expect(q(root, "step-signin")!.className).toBe("current");
    q(root, "setup-signin-corp")!.click();
    await flush();
    expect(b.calls).toContainEqual(["signIn", "corp"]);
    expect(q(root, "setup-done")!.textContent).toBe("Skip for now");
    b.push(view());
    expect(q(root, "setup-token-dev")!.textContent).toContain("50:00");
    expect(q(root, "setup-done")!.textContent).toBe("Open the dashboard");
    q(root, "setup-done")!.click();
    expect(q(root, "setup")).toBeNull();
    expect(root.querySelectorAll("article.card")).toHaveLength(2);
  });

  it("imports a team file after showing what it adds, and tries the devstack", async () => {
    const b = fake(empty());
    const { root, d } = await mount(b);
    const file = new File(["[idp.acme]\n"], "acme.toml");
    d.setupActions.readTeamFile(file);
    for (let i = 0; i < 50 && !q(root, "team-preview"); i++) await new Promise((r) => setTimeout(r, 10));
    expect(b.calls).toContainEqual(["previewTeam", "acme.toml"]);
    expect(q(root, "team-idp-acme")!.textContent).toContain("will be added");
    // Every host that receives a token is shown; one outside the Databricks domains must be
    // ticked by name before "Import" does anything (issue 23, M2).
    expect(q(root, "team-host-https://login.acme.example")!.textContent).toContain("refresh token");
    expect(q(root, "team-host-https://collector.example")!.textContent).toContain("NOT a Databricks workspace domain");
    expect((q(root, "team-import") as HTMLButtonElement).disabled).toBe(true);
    const tick = q(root, "team-trust-https://collector.example") as HTMLInputElement;
    tick.checked = true;
    tick.dispatchEvent(new Event("change"));
    expect((q(root, "team-import") as HTMLButtonElement).disabled).toBe(false);
    q(root, "team-import")!.click();
    await flush();
    expect(b.calls).toContainEqual(["importTeam", "acme.toml", false, ["https://collector.example"]]);
    expect(q(root, "team-preview")).toBeNull();
    q(root, "setup-try-local")!.click();
    await flush();
    expect(b.calls).toContainEqual(["tryLocally"]);
  });

  it("a configured app does not open the set-up", async () => {
    const { root } = await mount();
    expect(q(root, "setup")).toBeNull();
  });
});

describe("accessibility", () => {
  const focused = () => document.activeElement?.getAttribute("data-testid");
  const key = (k: string, target: EventTarget = document.activeElement ?? document.body) =>
    target.dispatchEvent(new KeyboardEvent("keydown", { key: k, bubbles: true, cancelable: true }));

  it("the page is not a live region; one polite status region outside it says what changed, never the clock", async () => {
    let now = NOW;
    const { root, d, b } = await mount(fake(), () => now);
    expect(root.hasAttribute("aria-live")).toBe(false);
    expect(root.querySelector("[aria-live], [role=alert], [role=status]")).toBeNull();
    const live = d.announcer.el;
    expect(root.contains(live)).toBe(false);
    expect([live.getAttribute("role"), live.getAttribute("aria-live")]).toEqual(["status", "polite"]);
    expect(live.textContent).toBe("");
    // Ticking countdowns and a new token in the same state: nothing said.
    now += 61;
    d.tick();
    const renewed = view();
    renewed.workspaces[0].expires_at = NOW + 4000;
    b.push(renewed);
    expect(live.textContent).toBe("");
    // A state change is said, with its workspace.
    const failing = view();
    failing.workspaces[0].state = "failed";
    b.push(failing);
    expect(d.announcer.last).toBe("dev: Refresh failing.");
    const signedOut = view();
    signedOut.idps[0].signed_in = false;
    for (const w of signedOut.workspaces) w.state = "needs_login";
    b.push(signedOut);
    expect(d.announcer.last).toBe("dev: Sign-in needed. prod: Sign-in needed. Signed out of corp.");
    b.push(view());
    expect(d.announcer.last).toBe("dev: Fresh. prod: Refresh failing. Signed in to corp.");
  });

  it("a card's button per agent launches that agent for its workspace, and says so", async () => {
    const v = view();
    v.agents = [{ name: "codex", title: "Codex" }, ...v.agents];
    const { root, d, b } = await mount(fake(v));
    expect(Array.from(q(root, "card-prod")!.querySelectorAll("[data-agent]"), (x) => x.getAttribute("aria-label"))).toEqual([
      "Launch Codex for prod",
      "Launch Claude Code for prod",
      "Open terminal for prod",
    ]);
    q(root, "launch-codex-prod")!.click();
    await flush();
    expect(b.calls).toContainEqual(["launch", "codex", "prod"]);
    expect(d.announcer.last).toBe("Codex is starting for prod.");
    q(root, "terminal-dev")!.click();
    await flush();
    expect(b.calls).toContainEqual(["launch", "terminal", "dev"]);
    expect(d.announcer.last).toBe("A terminal for dev is opening.");
  });

  it("an action's result and an error are said", async () => {
    const { root, d, b } = await mount();
    q(root, "refresh-now")!.click();
    await flush();
    expect(d.announcer.last).toBe("Fresh tokens exchanged.");
    b.fail = { kind: "network", message: "the workspace could not be reached", field: null };
    q(root, "launch-claude-dev")!.click();
    await flush();
    expect(d.announcer.last).toBe("Error: the workspace could not be reached");
    expect(q(root, "notice")!.textContent).toContain("Error: ");
  });

  it("buttons say which workspace or IdP they act on", async () => {
    const { root } = await mount();
    const names = (id: string) => Array.from(q(root, id)!.querySelectorAll("button, summary")).map((b) => b.getAttribute("aria-label") ?? b.textContent);
    expect(names("card-dev")).toEqual(["Edit dev", "Remove dev", "Launch Claude Code for dev", "Open terminal for dev"]);
    expect(names("card-prod")).toEqual([
      "Make active: prod",
      "Edit prod",
      "Remove prod",
      "Details of the error in prod",
      "Diagnose prod",
      "Launch Claude Code for prod",
      "Open terminal for prod",
    ]);
    expect(names("idp-corp")).toEqual(["Sign out of corp", "Edit corp", "Remove corp"]);
    // Each card is a named article, and a warning event says "Warning" in words.
    expect(q(root, "card-prod")!.getAttribute("aria-labelledby")).toBe("title-prod");
    const warn = q(root, "events")!.querySelector("li.warn")!;
    expect(warn.textContent).toContain("Warning");
    expect(warn.querySelector('[aria-hidden="true"]')!.textContent).toBe("⚠ ");
  });

  it("the dialog is modal: the page behind inert, Escape from anywhere closes it, focus goes back to its opener", async () => {
    const { root } = await mount();
    q(root, "add-workspace")!.focus();
    q(root, "add-workspace")!.click();
    const box = root.querySelector<HTMLElement>('[role="dialog"]')!;
    expect(box.getAttribute("aria-modal")).toBe("true");
    expect(focused()).toBe("field-name");
    const behind = Array.from(root.children).filter((c) => !c.contains(box));
    expect(behind.map((c) => c.tagName)).toEqual(["HEADER", "SECTION", "DIV"]);
    expect(behind[2].querySelector("main")).not.toBeNull();
    for (const c of behind) expect(c.hasAttribute("inert")).toBe(true);
    // Escape with the focus outside the dialog (on the body) still closes it.
    (document.activeElement as HTMLElement).blur();
    key("Escape", document.body);
    expect(root.querySelector('[role="dialog"]')).toBeNull();
    expect(root.querySelector("[inert]")).toBeNull();
    expect(focused()).toBe("add-workspace");
    // Edit, then Cancel: back on that card's Edit.
    q(root, "edit-prod")!.focus();
    q(root, "edit-prod")!.click();
    expect(focused()).toBe("field-host");
    Array.from(root.querySelectorAll<HTMLButtonElement>(".dialog button"))
      .find((b) => b.textContent === "Cancel")!
      .click();
    expect(focused()).toBe("edit-prod");
    // Escape inside it.
    q(root, "edit-idp-corp")!.click();
    key("Escape");
    expect(focused()).toBe("edit-idp-corp");
  });

  it("after a save focus goes back to the opener; after a refused save to the first field with a problem", async () => {
    const { root, d } = await mount();
    q(root, "add-workspace")!.click();
    (q(root, "field-name") as HTMLInputElement).value = "staging";
    q(root, "dialog-workspace")!.dispatchEvent(new Event("submit", { cancelable: true }));
    await flush();
    expect(focused()).toBe("field-host");
    expect(d.announcer.last).toMatch(/^One field needs a change: /);
    (q(root, "field-host") as HTMLInputElement).value = "https://staging.example.com";
    q(root, "dialog-workspace")!.dispatchEvent(new Event("submit", { cancelable: true }));
    await flush();
    await flush();
    expect(root.querySelector('[role="dialog"]')).toBeNull();
    expect(focused()).toBe("add-workspace");
    expect(d.announcer.last).toBe("Saved staging.");
  });

  it("focus stays on a sensible control after each action and redraw", async () => {
    const { root, d, b } = await mount();
    // Refresh now: disabled while it runs (focus parked on the page title), then back on it.
    q(root, "refresh-now")!.focus();
    q(root, "refresh-now")!.click();
    expect(focused()).toBe("page-title");
    await flush();
    expect(focused()).toBe("refresh-now");
    // Launch and Open terminal: the same control, after the redraw.
    for (const id of ["launch-claude-dev", "terminal-dev", "diagnose-prod"]) {
      q(root, id)!.focus();
      q(root, id)!.click();
      await flush();
      expect(focused()).toBe(id);
    }
    // A view pushed by the app redraws everything: focus stays.
    q(root, "terminal-prod")!.focus();
    b.push(view());
    expect(focused()).toBe("terminal-prod");
    // Make active: the button goes away (the card now says "Active"): its card's title.
    q(root, "activate-prod")!.focus();
    q(root, "activate-prod")!.click();
    await flush();
    expect(q(root, "active-prod")).not.toBeNull();
    expect(focused()).toBe("title-prod");
    expect(d.announcer.last).toBe("prod is now the active workspace.");
    // Dismissing the notice: the control it was on is gone, Refresh now takes it.
    q(root, "notice-dismiss")!.focus();
    q(root, "notice-dismiss")!.click();
    expect(q(root, "notice")).toBeNull();
    expect(focused()).toBe("refresh-now");
  });

  it("the set-up is the page's main landmark and marks its current step", async () => {
    const { root } = await mount(fake(empty()));
    const main = root.querySelector("main")!;
    expect(main.contains(q(root, "setup"))).toBe(true);
    expect(q(root, "step-idp")!.getAttribute("aria-current")).toBe("step");
    expect(q(root, "step-workspace")!.hasAttribute("aria-current")).toBe(false);
  });
});
