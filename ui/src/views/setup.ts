// The first-run set-up: with nothing configured, the dashboard opens here instead of on empty
// cards. Three steps, each derived from the view (no IdP → pick one; no workspace → paste its
// URL; else sign in and watch the first token arrive), plus the two shortcuts: "Try it locally"
// (the devstack, for someone with no IdP yet) and "Import" (a team file, as `lakepass setup`).
// Pure: state in, DOM out; every rule (presets, URLs, team files) is the core's, over commands.
import { h } from "../dom";
import { countdown, stateLabel } from "../format";
import type { AppView, PresetView, TeamEntry, TeamHost, TeamPlan } from "../types";
import type { Problems } from "../validate";
import { field } from "./dialogs";

/** The set-up's own state: the presets (from the core), the picked one, problems, the team file. */
export interface SetupState {
  presets: PresetView[];
  preset: string;
  problems: Problems;
  error: string | null;
  /** A team file read and planned, waiting for "Import"; `trusted`: the hosts the user ticked. */
  team: { name: string; text: string; plan: TeamPlan; trusted: string[] } | null;
}

export type SetupStep = "idp" | "workspace" | "signin";

/** What the set-up's buttons ask the controller to do. */
export interface SetupActions {
  pickPreset(name: string): void;
  saveIdp(form: HTMLFormElement): void;
  saveWorkspace(form: HTMLFormElement): void;
  signIn(idp: string): void;
  tryLocally(): void;
  readTeamFile(file: File): void;
  trustHost(host: string, trusted: boolean): void;
  importTeam(): void;
  cancelTeam(): void;
  finish(): void;
}

/** Which step the view is at: the first thing missing. */
export function setupStep(v: AppView): SetupStep {
  if (!v.idps.length) return "idp";
  if (!v.workspaces.length) return "workspace";
  return "signin";
}

const STEPS: [SetupStep, string][] = [
  ["idp", "Your company sign-in"],
  ["workspace", "A workspace"],
  ["signin", "Sign in"],
];

/** The whole set-up page. */
export function setup(v: AppView, s: SetupState, now: number, busy: ReadonlySet<string>, on: SetupActions): HTMLElement {
  const step = setupStep(v);
  const at = STEPS.findIndex(([k]) => k === step);
  return h(
    "section",
    { class: "setup", "aria-label": "Set up Lakepass", "data-testid": "setup" },
    h("h2", { class: "setup-title", "data-testid": "setup-title", tabindex: "-1" }, "Set up Lakepass"),
    h(
      "ol",
      { class: "steps", "aria-label": "Steps" },
      ...STEPS.map(([k, label], i) =>
        h(
          "li",
          { class: i < at ? "done" : i === at ? "current" : "", "data-testid": `step-${k}`, "aria-current": i === at ? "step" : null },
          label,
          i < at ? h("span", { class: "visually-hidden" }, " (done)") : null,
        ),
      ),
    ),
    s.team
      ? teamPreview(s.team, busy.has("import"), on)
      : h(
          "div",
          { class: "setup-body" },
          h(
            "div",
            { class: "panel setup-main" },
            step === "idp" ? idpStep(s, busy.has("save"), on) : step === "workspace" ? workspaceStep(v, s, busy.has("save"), on) : signInStep(v, now, busy, on),
          ),
          step === "idp" ? shortcuts(busy, on) : null,
        ),
  );
}

function errorLine(s: SetupState): HTMLElement | null {
  // Said through the live region by the controller when it happens, not on every redraw.
  return s.error ? h("p", { class: "banner bad", "data-testid": "setup-error" }, s.error) : null;
}

function text(name: string, value: string, placeholder: string): HTMLInputElement {
  return h("input", { name, value, placeholder, "data-testid": `field-${name}`, autocomplete: "off", spellcheck: "false" });
}

function idpStep(s: SetupState, saving: boolean, on: SetupActions): HTMLElement {
  const preset = s.presets.find((p) => p.name === s.preset) ?? s.presets[0];
  const select = h(
    "select",
    { name: "preset", "data-testid": "setup-preset", onchange: (e) => on.pickPreset((e.target as HTMLSelectElement).value) },
    ...s.presets.map((p) => h("option", { value: p.name, selected: p.name === preset?.name }, p.label)),
  );
  return h(
    "form",
    {
      class: "setup-form",
      "data-testid": "setup-idp-form",
      onsubmit: (e) => {
        e.preventDefault();
        on.saveIdp(e.target as HTMLFormElement);
      },
    },
    h("h3", {}, "Which identity provider does your company use?"),
    field("preset", "Identity provider", select, s.problems),
    ...(preset?.fields ?? []).map((f) => field(f.key, f.label, text(f.key, "", f.placeholder), s.problems)),
    field(
      "client_id",
      "Client ID",
      text("client_id", "", "00000000-0000-0000-0000-000000000000"),
      s.problems,
      preset ? `The app your company registered for Lakepass (a public client, redirect URI ${preset.redirect_uri}).` : undefined,
    ),
    field("name", "Name", text("name", "corp", "corp"), s.problems, "A short name for it in Lakepass."),
    errorLine(s),
    h(
      "div",
      { class: "actions end" },
      h("button", { class: "primary", type: "submit", "data-testid": "setup-save-idp", disabled: saving }, saving ? "Saving…" : "Next"),
    ),
  );
}

function workspaceStep(v: AppView, s: SetupState, saving: boolean, on: SetupActions): HTMLElement {
  return h(
    "form",
    {
      class: "setup-form",
      "data-testid": "setup-workspace-form",
      onsubmit: (e) => {
        e.preventDefault();
        on.saveWorkspace(e.target as HTMLFormElement);
      },
    },
    h("h3", {}, "Add a Databricks workspace"),
    h("p", { class: "muted" }, "Open your workspace in the browser and paste its address here; the page you are on does not matter."),
    field("host", "Workspace URL", text("host", "", "https://adb-1234567890123456.7.azuredatabricks.net/?o=1234567890123456"), s.problems),
    field("name", "Name", text("name", "dev", "dev"), s.problems, "Short, used in menus and commands, and as its ~/.databrickscfg profile."),
    h("p", { class: "small muted" }, `Signs in with ${v.idps[0]?.name ?? "your identity provider"}.`),
    errorLine(s),
    h(
      "div",
      { class: "actions end" },
      h("button", { class: "primary", type: "submit", "data-testid": "setup-save-workspace", disabled: saving }, saving ? "Checking…" : "Next"),
    ),
  );
}

function signInStep(v: AppView, now: number, busy: ReadonlySet<string>, on: SetupActions): HTMLElement {
  const arrived = v.workspaces.some((w) => w.expires_at !== null && w.state !== "needs_login");
  return h(
    "div",
    { class: "setup-form" },
    h("h3", {}, arrived ? "Your first token has arrived" : "Sign in"),
    h(
      "p",
      { class: "muted" },
      arrived ? "Lakepass keeps it fresh from now on; tools reading ~/.databrickscfg work." : "Your browser opens your company’s sign-in page.",
    ),
    ...v.idps.map((i) =>
      h(
        "div",
        { class: "actions" },
        h(
          "button",
          {
            class: i.signed_in ? "" : "primary",
            "data-testid": `setup-signin-${i.name}`,
            disabled: i.signing_in || busy.has(`signin-${i.name}`),
            onclick: () => on.signIn(i.name),
          },
          i.signing_in || busy.has(`signin-${i.name}`) ? "Waiting for the browser…" : i.signed_in ? `Sign in to ${i.name} again` : `Sign in to ${i.name}`,
        ),
      ),
    ),
    h(
      "ul",
      { class: "setup-tokens" },
      ...v.workspaces.map((w) =>
        h(
          "li",
          { "data-testid": `setup-token-${w.name}` },
          h("strong", {}, w.name),
          " ",
          h("span", { class: "muted" }, stateLabel(w.state, w.expires_at, now)),
          w.expires_at !== null && w.state !== "needs_login" ? h("span", { class: "mono", "data-expires": w.expires_at }, countdown(w.expires_at, now)) : null,
        ),
      ),
    ),
    h(
      "div",
      { class: "actions end" },
      h(
        "button",
        { class: arrived ? "primary" : "", "data-testid": "setup-done", onclick: () => on.finish() },
        arrived ? "Open the dashboard" : "Skip for now",
      ),
    ),
  );
}

function shortcuts(busy: ReadonlySet<string>, on: SetupActions): HTMLElement {
  const file = h("input", {
    type: "file",
    accept: ".toml,text/plain",
    class: "visually-hidden",
    "data-testid": "setup-import-file",
    onchange: (e) => {
      const f = (e.target as HTMLInputElement).files?.[0];
      if (f) on.readTeamFile(f);
    },
  });
  return h(
    "aside",
    { class: "setup-side" },
    h(
      "div",
      { class: "panel" },
      h("h3", {}, "No identity provider yet?"),
      h("p", { class: "muted small" }, "Try Lakepass on this machine: a local sign-in and two practice workspaces, nothing leaves 127.0.0.1."),
      h(
        "button",
        { "data-testid": "setup-try-local", disabled: busy.has("try-local"), onclick: () => on.tryLocally() },
        busy.has("try-local") ? "Starting…" : "Try it locally",
      ),
    ),
    h(
      "div",
      { class: "panel" },
      h("h3", {}, "Got a team file?"),
      h("p", { class: "muted small" }, "Your team may hand out one file with its sign-in and workspaces."),
      h("label", { class: "button", "data-testid": "setup-import" }, "Import…", file),
    ),
  );
}

const MARK = { add: "+", unchanged: "=", conflict: "!" } as const;

function entryLine(e: TeamEntry): HTMLElement {
  const what =
    e.change === "add"
      ? "will be added"
      : e.change === "unchanged"
        ? "already set up"
        : `differs from yours: ${e.fields.map((f) => `${f.key} (yours ${f.yours ?? "not set"}, the team’s ${f.team ?? "not set"})`).join(", ")}`;
  return h(
    "li",
    { class: `team-${e.change}`, "data-testid": `team-${e.section}-${e.name}` },
    h("span", { class: "mono mark" }, MARK[e.change]),
    h("span", {}, h("strong", {}, `${e.section} ${e.name}`), " ", what),
  );
}

/** A host that will receive a token; one outside the Databricks domains needs its own tick. */
function hostLine(hostInfo: TeamHost, trusted: readonly string[], on: SetupActions): HTMLElement {
  const what = hostInfo.role === "idp" ? "your sign-in and refresh token" : "your sign-in token (IdP JWT)";
  const by = hostInfo.named_by.join(", ");
  if (!hostInfo.needs_confirmation) {
    return h("li", { "data-testid": `team-host-${hostInfo.host}` }, h("span", { class: "mono" }, hostInfo.host), ` receives ${what} (${by})`);
  }
  return h(
    "li",
    { class: "team-conflict", "data-testid": `team-host-${hostInfo.host}` },
    h(
      "label",
      {},
      h("input", {
        type: "checkbox",
        "data-testid": `team-trust-${hostInfo.host}`,
        checked: trusted.includes(hostInfo.host),
        onchange: (e) => on.trustHost(hostInfo.host, (e.target as HTMLInputElement).checked),
      }),
      " I trust ",
      h("strong", { class: "mono" }, hostInfo.host),
      ` with ${what}: it is NOT a Databricks workspace domain (${by})`,
    ),
  );
}

function teamPreview(team: NonNullable<SetupState["team"]>, importing: boolean, on: SetupActions): HTMLElement {
  const conflicts = team.plan.entries.some((e) => e.change === "conflict");
  const unconfirmed = team.plan.hosts.some((x) => x.needs_confirmation && !team.trusted.includes(x.host));
  return h(
    "div",
    { class: "panel setup-main", "data-testid": "team-preview" },
    h("h3", {}, `Import ${team.name}`),
    h("ul", { class: "team-plan" }, ...team.plan.entries.map(entryLine)),
    conflicts ? h("p", { class: "small muted" }, "Some entries differ from yours: importing replaces yours with the team’s.") : null,
    team.plan.hosts.length ? h("h4", {}, "These hosts will receive your tokens") : null,
    team.plan.hosts.length ? h("ul", { class: "team-hosts" }, ...team.plan.hosts.map((x) => hostLine(x, team.trusted, on))) : null,
    h(
      "div",
      { class: "actions end" },
      h("button", { "data-testid": "team-cancel", onclick: () => on.cancelTeam() }, "Cancel"),
      h(
        "button",
        { class: "primary", "data-testid": "team-import", disabled: importing || unconfirmed, onclick: () => on.importTeam() },
        importing ? "Importing…" : conflicts ? "Import, replacing mine" : "Import",
      ),
    ),
  );
}
