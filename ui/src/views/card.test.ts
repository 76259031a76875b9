import type { McpTokenView } from "../types";
import { card, diagnosis, workspaces, type CardActions, type WorkspacesActions } from "./card";
import {
  byTestId,
  CARD_ACTIONS,
  cardContext,
  CLAUDE,
  CODEX,
  GEMINI,
  NOW,
  recorder,
  sampleIdp,
  sampleReport,
  sampleView,
  sampleWorkspace,
  TERMINAL,
} from "./testdata";

describe("card view", () => {
  it("shows a fresh active workspace: state, countdown, scopes, profile, no problem", () => {
    const v = sampleView();
    const { on } = recorder<CardActions>(CARD_ACTIONS);
    const el = card(v.workspaces[0], v, cardContext(), on);
    expect(el.tagName).toBe("ARTICLE");
    expect(el.className).toBe("card tone-ok active");
    expect(el.dataset.state).toBe("fresh");
    expect(byTestId(el, "active-dev").textContent).toBe("Active");
    expect(el.querySelector('[data-testid="activate-dev"]')).toBeNull();
    expect(byTestId(el, "state-dev").textContent).toBe("Fresh");
    const cd = byTestId(el, "countdown-dev");
    expect(cd.textContent).toBe("50:00");
    expect(cd.dataset.expires).toBe(String(NOW + 3000));
    expect(el.querySelector(".countdown-row .muted")!.textContent).toMatch(/^left · renews at \d\d:\d\d$/);
    expect(Array.from(el.querySelectorAll(".chip"), (c) => c.textContent)).toEqual(["all-apis"]);
    expect(el.querySelector("dd.mono")!.textContent).toBe("dev-profile");
    expect(el.querySelector('[data-testid="problem-dev"]')).toBeNull();
    expect(el.querySelector('[data-testid="signin-card-dev"]')).toBeNull();
  });

  it("shows a failing workspace's hint, details and a Diagnose button", () => {
    const v = sampleView();
    const { on } = recorder<CardActions>(CARD_ACTIONS);
    const el = card(v.workspaces[1], v, cardContext(), on);
    expect(el.className).toBe("card tone-bad");
    expect(byTestId(el, "activate-prod").textContent).toBe("Make active");
    expect(byTestId(el, "state-prod").textContent).toBe("Refresh failing");
    const problem = byTestId(el, "problem-prod");
    expect(problem.className).toBe("problem bad");
    expect(problem.querySelector(".hint")!.textContent).toBe("The workspace could not be reached.");
    expect(problem.querySelector("details")!.textContent).toContain("connection refused");
    const diagnose = byTestId(el, "diagnose-prod") as HTMLButtonElement;
    expect(diagnose.textContent).toBe("Diagnose");
    expect(diagnose.disabled).toBe(false);
    expect(el.querySelector('[data-testid="doctor-prod"]')).toBeNull();
  });

  it("marks a running diagnosis and shows the doctor's report once there", () => {
    const v = sampleView();
    const { on } = recorder<CardActions>(CARD_ACTIONS);
    const ctx = cardContext({ busy: new Set(["doctor-prod"]), diagnoses: new Map([["prod", sampleReport()]]) });
    const el = card(v.workspaces[1], v, ctx, on);
    const diagnose = byTestId(el, "diagnose-prod") as HTMLButtonElement;
    expect(diagnose.textContent).toBe("Diagnosing…");
    expect(diagnose.disabled).toBe(true);
    expect(byTestId(el, "doctor-prod").querySelectorAll("li")).toHaveLength(3);
  });

  it("offers sign-in when the workspace needs it, and nothing that needs a token", () => {
    const w = sampleWorkspace({ state: "needs_login", expires_at: null, refresh_due_at: null });
    const v = sampleView({ workspaces: [w], idps: [sampleIdp({ signed_in: false })], active: null });
    const { on } = recorder<CardActions>(CARD_ACTIONS);
    const el = card(w, v, cardContext(), on);
    expect(el.className).toBe("card tone-off");
    expect(byTestId(el, "signin-card-dev").textContent).toBe("Sign in to corp");
    expect(byTestId(el, "countdown-dev").textContent).toBe("--:--");
    expect(byTestId(el, "countdown-dev").dataset.expires).toBe("none");
    expect(el.querySelector(".countdown-row .muted")!.textContent).toBe("no token yet");
    const buttons = Array.from(el.querySelectorAll<HTMLButtonElement>(".actions button"));
    expect(buttons.filter((b) => b.disabled).map((b) => b.textContent)).toEqual(["Launch Claude Code", "Open terminal"]);

    const waiting = sampleView({ workspaces: [w], idps: [sampleIdp({ signed_in: false, signing_in: true })] });
    const signIn = byTestId(card(w, waiting, cardContext(), on), "signin-card-dev") as HTMLButtonElement;
    expect(signIn.textContent).toBe("Waiting for the browser…");
    expect(signIn.disabled).toBe(true);
  });

  it("names the service principal and disables Launch while it starts", () => {
    const w = sampleWorkspace({ client_id: "sp-123" });
    const { on } = recorder<CardActions>(CARD_ACTIONS);
    const el = card(w, sampleView(), cardContext({ busy: new Set(["launch-claude-dev"]) }), on);
    expect(el.querySelector(".facts")!.textContent).toContain("corp · as service principal sp-123");
    const launch = Array.from(el.querySelectorAll<HTMLButtonElement>("button")).find((b) => b.textContent === "Launch Claude Code")!;
    expect(launch.disabled).toBe(true);
  });

  it("calls back with the workspace each button is about", () => {
    const v = sampleView({ idps: [sampleIdp({ signed_in: false })] });
    const w = sampleWorkspace({ name: "prod", state: "needs_login" });
    const { on, calls } = recorder<CardActions>(CARD_ACTIONS);
    const el = card(w, v, cardContext(), on);
    byTestId(el, "activate-prod").click();
    byTestId(el, "edit-prod").click();
    byTestId(el, "remove-prod").click();
    byTestId(el, "signin-card-prod").click();
    expect(calls).toEqual([
      ["activate", "prod"],
      ["edit", w],
      ["remove", w],
      ["signIn", "corp"],
    ]);

    const fresh = sampleView();
    const { on: on2, calls: calls2 } = recorder<CardActions>(CARD_ACTIONS);
    const el2 = card(fresh.workspaces[1], fresh, cardContext(), on2);
    byTestId(el2, "diagnose-prod").click();
    for (const b of el2.querySelectorAll<HTMLButtonElement>(".actions button")) b.click();
    expect(calls2).toEqual([
      ["diagnose", "prod"],
      ["launch", CLAUDE, "prod"],
      ["launch", TERMINAL, "prod"],
    ]);
  });

  it("has a launch button per agent the host found, in its order, each named for the workspace", () => {
    const v = sampleView({ agents: [CODEX, CLAUDE, GEMINI, TERMINAL] });
    const { on, calls } = recorder<CardActions>(CARD_ACTIONS);
    const el = card(v.workspaces[0], v, cardContext({ busy: new Set(["launch-gemini-dev"]) }), on);
    const buttons = Array.from(el.querySelectorAll<HTMLButtonElement>(".actions button"));
    expect(buttons.map((b) => [b.dataset.testid, b.textContent, b.getAttribute("aria-label"), b.disabled])).toEqual([
      ["launch-codex-dev", "Launch Codex", "Launch Codex for dev", false],
      ["launch-claude-dev", "Launch Claude Code", "Launch Claude Code for dev", false],
      ["launch-gemini-dev", "Launch Gemini CLI", "Launch Gemini CLI for dev", true],
      ["terminal-dev", "Open terminal", "Open terminal for dev", false],
    ]);
    byTestId(el, "launch-codex-dev").click();
    expect(calls).toEqual([["launch", CODEX, "dev"]]);
    // Only what the host offers: with Claude Code not installed, no button for it.
    const without = card(v.workspaces[0], sampleView({ agents: [TERMINAL] }), cardContext(), on);
    expect(Array.from(without.querySelectorAll(".actions button"), (b) => b.textContent)).toEqual(["Open terminal"]);
    // Signed out: every launch waits for the sign-in.
    const out = sampleWorkspace({ state: "needs_login", expires_at: null, refresh_due_at: null });
    const signedOut = card(out, sampleView({ workspaces: [out], agents: [CODEX, TERMINAL] }), cardContext(), on);
    expect(Array.from(signedOut.querySelectorAll<HTMLButtonElement>("[data-agent]"), (b) => b.disabled)).toEqual([true, true]);
  });
});

describe("diagnosis view", () => {
  it("lists the doctor's steps with a mark, the detail unless skipped, and the fix", () => {
    const el = diagnosis("prod", sampleReport())!;
    expect(el.dataset.testid).toBe("doctor-prod");
    const steps = Array.from(el.querySelectorAll("li"));
    expect(steps.map((s) => s.className)).toEqual(["step ok", "step failed", "step skipped"]);
    expect(steps.map((s) => s.querySelector(".mark")!.textContent)).toEqual(["✓", "✗", "–"]);
    // The marks are hidden from screen readers, which hear the status in words.
    expect(steps.map((s) => s.querySelector(".mark")!.getAttribute("aria-hidden"))).toEqual(["true", "true", "true"]);
    expect(steps.map((s) => s.querySelector(".visually-hidden")!.textContent)).toEqual(["Passed: ", "Failed: ", "Skipped: "]);
    expect(steps[1].querySelector(".fix")!.textContent).toBe("Add lakepass to the audiences");
    expect(steps[2].textContent).not.toContain("not tried");
    expect(steps[0].querySelector(".fix")).toBeNull();
  });

  it("is nothing before a diagnosis", () => {
    expect(diagnosis("prod", undefined)).toBeNull();
  });
});

describe("workspaces view", () => {
  const actions: (keyof WorkspacesActions)[] = ["add", ...CARD_ACTIONS];

  it("renders one card per workspace and an add button", () => {
    const { on, calls } = recorder<WorkspacesActions>(actions);
    const el = workspaces(sampleView(), cardContext(), on);
    expect(el.getAttribute("aria-label")).toBe("Workspaces");
    expect(Array.from(el.querySelectorAll("article.card"), (c) => c.getAttribute("data-testid"))).toEqual(["card-dev", "card-prod"]);
    byTestId(el, "add-workspace").click();
    expect(calls).toEqual([["add"]]);
  });

  it("says what to add first when there is nothing", () => {
    const { on } = recorder<WorkspacesActions>(actions);
    const none = workspaces(sampleView({ workspaces: [], idps: [] }), cardContext(), on);
    expect(none.querySelector(".empty")!.textContent).toContain("identity provider");
    const noWs = workspaces(sampleView({ workspaces: [] }), cardContext(), on);
    expect(noWs.querySelector(".empty")!.textContent).toBe("No workspace yet. Add the Databricks workspaces you use.");
    expect(noWs.querySelector("article")).toBeNull();
  });
});

describe("managed-MCP tokens on a card", () => {
  const sql: McpTokenView = {
    scope: "sql",
    servers: ["databricks-sql"],
    state: "fresh",
    expires_at: NOW + 52 * 60 + 10,
    refresh_due_at: NOW + 2800,
    last_error: null,
  };

  it("lists each token under its workspace: scope and time left, the servers in the tooltip", () => {
    const genie: McpTokenView = {
      ...sql,
      scope: "genie",
      servers: ["databricks-genie-01ab", "databricks-genie-02cd"],
      expires_at: null,
      refresh_due_at: null,
      state: "expiring",
    };
    const w = sampleWorkspace({ mcp: [sql, genie] });
    const v = sampleView({ workspaces: [w] });
    const el = card(w, v, cardContext(), recorder<CardActions>(CARD_ACTIONS).on);
    const list = byTestId(el, "mcp-dev");
    expect(Array.from(list.querySelectorAll("li"), (li) => li.textContent)).toEqual(["MCP: sql · 52 min left", "MCP: genie · none yet, made on first use"]);
    const line = byTestId(el, "mcp-dev-sql");
    expect(line.className).toBe("mcp-token ok");
    expect(line.dataset.state).toBe("fresh");
    expect(line.title).toBe("Used by databricks-sql");
    expect(byTestId(el, "mcp-dev-genie").title).toBe("Used by databricks-genie-01ab, databricks-genie-02cd");
  });

  it("shows the engine's state and the last error's kind and words, and counts down with the clock", () => {
    const failed: McpTokenView = { ...sql, state: "failed", last_error: { kind: "federation_rejected", message: "scope sql refused" } };
    const w = sampleWorkspace({ mcp: [failed] });
    const el = card(w, sampleView({ workspaces: [w] }), cardContext(), recorder<CardActions>(CARD_ACTIONS).on);
    const line = byTestId(el, "mcp-dev-sql");
    expect(line.className).toBe("mcp-token bad");
    expect(line.textContent).toBe("MCP: sql · exchange failed — scope sql refused");
    expect((line.querySelector("[data-error-kind]") as HTMLElement).dataset.errorKind).toBe("federation_rejected");
    const later = sampleWorkspace({ mcp: [sql] });
    const el2 = card(later, sampleView({ workspaces: [later] }), cardContext({ now: NOW + 53 * 60 }), recorder<CardActions>(CARD_ACTIONS).on);
    expect(byTestId(el2, "mcp-dev-sql").textContent).toBe("MCP: sql · expired, renewed on next use");
  });

  it("shows no list for a workspace without an [mcp] table", () => {
    const v = sampleView();
    const el = card(v.workspaces[0], v, cardContext(), recorder<CardActions>(CARD_ACTIONS).on);
    expect(el.querySelector('[data-testid="mcp-dev"]')).toBeNull();
  });
});
