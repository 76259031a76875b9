import type { Backend } from "./api";
import { Dashboard } from "./app";
import type { AppEvent, AppView } from "./types";

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
    vault: "OS keyring (service lakepass)",
    vault_fallback: null,
    at: NOW,
    warnings: [],
  };
}

function fake(v: AppView = view()) {
  const calls: [string, ...unknown[]][] = [];
  let current = v;
  let viewCb: (v: AppView) => void = () => {};
  const b: Backend & { calls: typeof calls; push(v: AppView): void; fail?: { kind: string; message: string; field: string | null } } = {
    calls,
    push(v) {
      current = v;
      viewCb(v);
    },
    getView: async () => current,
    getEvents: async (): Promise<AppEvent[]> => [{ at: NOW - 60, level: "info", workspace: "dev", text: "New token, valid for 1 h 00 min" }],
    setActive: async (n) => {
      calls.push(["setActive", n]);
    },
    refreshNow: async () => {
      calls.push(["refreshNow"]);
    },
    signIn: async (i) => {
      calls.push(["signIn", i]);
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
    launchClaude: async (w) => {
      calls.push(["launchClaude", w]);
    },
    openTerminal: async (w) => {
      calls.push(["openTerminal", w]);
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
