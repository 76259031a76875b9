// A workspace card (token state, countdown, facts, problem and doctor steps, actions) and the
// section that lists the cards. Pure: data in, DOM out; every button calls back into the
// controller, which owns the state and the backend.
import { h } from "../dom";
import { clockTime, countdown, mcpLabel, stateLabel, stateTone } from "../format";
import type { AgentView, AppView, DoctorReport, McpTokenView, WorkspaceView } from "../types";

/** What a card's buttons ask the controller to do. */
export interface CardActions {
  activate(workspace: string): void;
  edit(w: WorkspaceView): void;
  remove(w: WorkspaceView): void;
  diagnose(workspace: string): void;
  signIn(idp: string): void;
  /** Launch one of the view's `agents` (by name; `terminal` opens a terminal) for a workspace. */
  launch(agent: AgentView, workspace: string): void;
}

/** What the workspaces section's buttons ask the controller to do. */
export interface WorkspacesActions extends CardActions {
  add(): void;
}

/** The state around the view that cards show: the clock, running actions, doctor reports. */
export interface CardContext {
  now: number;
  /** Keys of the actions running now, e.g. `doctor-dev`. */
  busy: ReadonlySet<string>;
  diagnoses: ReadonlyMap<string, DoctorReport>;
}

/** The "Workspaces" section: one card per workspace, or what to do first. */
export function workspaces(v: AppView, ctx: CardContext, on: WorkspacesActions): HTMLElement {
  return h(
    "section",
    { class: "workspaces", "aria-label": "Workspaces" },
    h(
      "div",
      { class: "section-head" },
      h("h2", {}, "Workspaces"),
      h("button", { class: "ghost", "data-testid": "add-workspace", onclick: () => on.add() }, "+ Add workspace"),
    ),
    v.workspaces.length
      ? h("div", { class: "cards" }, ...v.workspaces.map((w) => card(w, v, ctx, on)))
      : h(
          "p",
          { class: "empty" },
          v.idps.length ? "No workspace yet. Add the Databricks workspaces you use." : "Start by adding your company's identity provider, then a workspace.",
        ),
  );
}

/** One workspace's card. */
export function card(w: WorkspaceView, v: AppView, ctx: CardContext, on: CardActions): HTMLElement {
  const { now, busy } = ctx;
  const tone = stateTone(w.state, w.expires_at, now);
  const active = v.active === w.name;
  const signedIn = w.state !== "needs_login";
  const idp = v.idps.find((i) => i.name === w.idp);
  return h(
    "article",
    { class: `card tone-${tone}${active ? " active" : ""}`, "data-testid": `card-${w.name}`, "data-state": w.state, "aria-labelledby": `title-${w.name}` },
    h(
      "div",
      { class: "card-head" },
      // Focusable by script only: where focus lands when the control it was on goes away.
      h("h3", { id: `title-${w.name}`, "data-testid": `title-${w.name}`, tabindex: "-1" }, w.name),
      active
        ? h("span", { class: "pill", "data-testid": `active-${w.name}` }, "Active")
        : h(
            "button",
            { class: "link", "data-testid": `activate-${w.name}`, "aria-label": `Make active: ${w.name}`, onclick: () => on.activate(w.name) },
            "Make active",
          ),
      h(
        "span",
        { class: `state ${tone}`, "data-testid": `state-${w.name}` },
        h("span", { class: "dot", "aria-hidden": "true" }),
        stateLabel(w.state, w.expires_at, now),
      ),
    ),
    h(
      "div",
      { class: "host-row" },
      h("p", { class: "host mono" }, w.host),
      h("button", { class: "link small", "data-testid": `edit-${w.name}`, "aria-label": `Edit ${w.name}`, onclick: () => on.edit(w) }, "Edit"),
      h("button", { class: "link small danger", "data-testid": `remove-${w.name}`, "aria-label": `Remove ${w.name}`, onclick: () => on.remove(w) }, "Remove"),
    ),
    h(
      "div",
      { class: "countdown-row" },
      h(
        "span",
        { class: `countdown mono${w.expires_at ? "" : " none"}`, "data-testid": `countdown-${w.name}`, "data-expires": w.expires_at ?? "none" },
        countdown(w.expires_at, now),
      ),
      h("span", { class: "muted" }, w.expires_at ? `left · renews at ${clockTime(w.refresh_due_at ?? w.expires_at)}` : "no token yet"),
    ),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Scopes"),
      h("dd", {}, ...w.scopes.map((s) => h("span", { class: "chip" }, s))),
      h("dt", {}, "Profile"),
      h("dd", { class: "mono" }, w.profile),
      h("dt", {}, "Signs in with"),
      h("dd", {}, w.idp, w.client_id ? ` · as service principal ${w.client_id}` : ""),
    ),
    mcpTokens(w.name, w.mcp, now),
    w.hint || w.last_error
      ? h(
          "div",
          { class: `problem ${tone}`, "data-testid": `problem-${w.name}` },
          w.hint ? h("p", { class: "hint" }, w.hint) : null,
          w.last_error
            ? h(
                "details",
                {},
                h("summary", { "data-testid": `details-${w.name}`, "aria-label": `Details of the error in ${w.name}` }, "Details"),
                h("p", { class: "mono small" }, w.last_error.message),
              )
            : null,
          tone === "bad"
            ? h(
                "button",
                {
                  class: "link small",
                  "data-testid": `diagnose-${w.name}`,
                  "aria-label": `Diagnose ${w.name}`,
                  disabled: busy.has(`doctor-${w.name}`),
                  onclick: () => on.diagnose(w.name),
                },
                busy.has(`doctor-${w.name}`) ? "Diagnosing…" : "Diagnose",
              )
            : null,
          diagnosis(w.name, ctx.diagnoses.get(w.name)),
        )
      : null,
    h(
      "div",
      { class: "actions" },
      !signedIn && idp
        ? h(
            "button",
            { class: "primary", "data-testid": `signin-card-${w.name}`, disabled: idp.signing_in, onclick: () => on.signIn(idp.name) },
            idp.signing_in ? "Waiting for the browser…" : `Sign in to ${idp.name}`,
          )
        : null,
      ...v.agents.map((a) => launchButton(a, w.name, signedIn, busy, on)),
    ),
  );
}

/** The busy key of a launch: `launch-codex-dev`. */
export function launchKey(agent: string, workspace: string): string {
  return `launch-${agent}-${workspace}`;
}

/**
 * One launch button of a card, for an agent the host found installed: "Launch Codex" (named
 * "Launch Codex for dev" to a screen reader), or "Open terminal" for the terminal. Greyed out
 * until the workspace is signed in, and while its launch is under way.
 */
export function launchButton(a: AgentView, workspace: string, signedIn: boolean, busy: ReadonlySet<string>, on: Pick<CardActions, "launch">): HTMLElement {
  const terminal = a.name === "terminal";
  const words = terminal ? "Open terminal" : `Launch ${a.title}`;
  return h(
    "button",
    {
      "data-testid": terminal ? `terminal-${workspace}` : `launch-${a.name}-${workspace}`,
      "data-agent": a.name,
      "aria-label": `${words} for ${workspace}`,
      disabled: !signedIn || busy.has(launchKey(a.name, workspace)),
      onclick: () => on.launch(a, workspace),
    },
    words,
  );
}

/** The words of one managed-MCP line: "MCP: sql · 52 min left". */
export function mcpWords(m: Pick<McpTokenView, "scope" | "state" | "expires_at">, now: number): string {
  return `MCP: ${m.scope} · ${mcpLabel(m, now)}`;
}

/**
 * Under a workspace's facts, one line per managed-MCP token. Its words sit in a span carrying
 * `data-mcp-expires`, `data-scope` and `data-state`, so the dashboard's clock tick can redo them
 * as minutes pass (`data-expires` is the big countdown's, which the tick rewrites as "52:07").
 */
export function mcpTokens(workspace: string, tokens: McpTokenView[], now: number): HTMLElement | null {
  if (!tokens.length) return null;
  return h(
    "ul",
    { class: "mcp-tokens", "data-testid": `mcp-${workspace}`, "aria-label": `Managed MCP tokens of ${workspace}` },
    ...tokens.map((m) =>
      h(
        "li",
        {
          class: `mcp-token ${stateTone(m.state, m.expires_at, now)}`,
          "data-testid": `mcp-${workspace}-${m.scope}`,
          "data-state": m.state,
          title: `Used by ${m.servers.join(", ")}`,
        },
        h("span", { class: "dot", "aria-hidden": "true" }),
        h("span", { class: "mcp-words", "data-mcp-expires": m.expires_at ?? "none", "data-scope": m.scope, "data-state": m.state }, mcpWords(m, now)),
        m.last_error ? h("span", { class: "muted small", "data-error-kind": m.last_error.kind }, ` — ${m.last_error.message}`) : null,
      ),
    ),
  );
}

const MARK = { ok: "✓", warning: "!", failed: "✗", skipped: "–" } as const;
const STATUS_WORD = { ok: "Passed", warning: "Warning", failed: "Failed", skipped: "Skipped" } as const;

/** The doctor's steps for a workspace, once asked for. */
export function diagnosis(workspace: string, report: DoctorReport | undefined): HTMLElement | null {
  if (!report) return null;
  return h(
    "ol",
    { class: "doctor", "data-testid": `doctor-${workspace}` },
    ...report.steps.map((s) =>
      h(
        "li",
        { class: `step ${s.status}` },
        // The mark is for the eye; a screen reader hears the status in words.
        h("span", { class: "mark", "aria-hidden": "true" }, MARK[s.status]),
        h(
          "div",
          {},
          h("span", { class: "visually-hidden" }, `${STATUS_WORD[s.status]}: `),
          h("strong", {}, s.title),
          s.status !== "skipped" ? h("p", { class: "small" }, s.detail) : null,
          s.fix ? h("p", { class: "small fix" }, s.fix) : null,
        ),
      ),
    ),
  );
}
