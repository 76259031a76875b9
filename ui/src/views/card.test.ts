import { card, diagnosis, workspaces, type CardActions, type WorkspacesActions } from "./card";
import { byTestId, CARD_ACTIONS, cardContext, NOW, recorder, sampleIdp, sampleReport, sampleView, sampleWorkspace } from "./testdata";

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
    const el = card(w, sampleView(), cardContext({ busy: new Set(["claude-dev"]) }), on);
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
      ["launchClaude", "prod"],
      ["openTerminal", "prod"],
    ]);
  });
});

describe("diagnosis view", () => {
  it("lists the doctor's steps with a mark, the detail unless skipped, and the fix", () => {
    const el = diagnosis("prod", sampleReport())!;
    expect(el.dataset.testid).toBe("doctor-prod");
    const steps = Array.from(el.querySelectorAll("li"));
    expect(steps.map((s) => s.className)).toEqual(["step ok", "step failed", "step skipped"]);
    expect(steps.map((s) => s.querySelector(".mark")!.textContent)).toEqual(["✓", "✗", "–"]);
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
