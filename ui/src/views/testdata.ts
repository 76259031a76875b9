// Sample data for the view tests: two workspaces (one fresh and active, one failing) on one IdP.
import type { AgentView, AppEvent, AppView, DoctorReport, IdpView, WorkspaceView } from "../types";
import type { CardActions, CardContext } from "./card";

export const NOW = 1_700_000_000;

export function sampleWorkspace(over: Partial<WorkspaceView> = {}): WorkspaceView {
  return {
    name: "dev",
    host: "https://dev.example.com",
    profile: "dev-profile",
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
    ...over,
  };
}

export function sampleIdp(over: Partial<IdpView> = {}): IdpView {
  return {
    name: "corp",
    issuer: "https://login.example.com/",
    client_id: "lp",
    scopes: ["openid"],
    redirect_port: 0,
    signed_in: true,
    signing_in: false,
    workspaces: ["dev", "prod"],
    ...over,
  };
}

/** What the host offers to launch, as it names it. */
export const CLAUDE: AgentView = { name: "claude", title: "Claude Code" };
export const CODEX: AgentView = { name: "codex", title: "Codex" };
export const GEMINI: AgentView = { name: "gemini", title: "Gemini CLI" };
export const TERMINAL: AgentView = { name: "terminal", title: "Terminal" };

export function sampleView(over: Partial<AppView> = {}): AppView {
  return {
    workspaces: [
      sampleWorkspace(),
      sampleWorkspace({
        name: "prod",
        host: "https://prod.example.com",
        profile: "prod",
        scopes: ["sql", "serving"],
        state: "failed",
        expires_at: NOW + 600,
        refresh_due_at: NOW,
        last_error: { kind: "network", message: "connection refused" },
        hint: "The workspace could not be reached.",
      }),
    ],
    idps: [sampleIdp()],
    active: "dev",
    config_path: "/home/u/.config/lakepass/config.toml",
    config_error: null,
    first_run: false,
    vault: "OS keyring (service lakepass)",
    vault_fallback: null,
    at: NOW,
    warnings: [],
    agents: [CLAUDE, TERMINAL],
    ...over,
  };
}

export function sampleEvents(): AppEvent[] {
  return [
    { at: NOW - 120, level: "info", workspace: "dev", text: "New token, valid for 1 h 00 min" },
    { at: NOW - 7200, level: "warn", workspace: null, text: "The IdP did not answer" },
  ];
}

export function sampleReport(): DoctorReport {
  return {
    workspace: "prod",
    host: null,
    ok: false,
    steps: [
      { id: "idp", title: "Identity provider", status: "ok", detail: "discovery and JWKS answer" },
      { id: "exchange", title: "Token exchange", status: "failed", detail: "the workspace refused", fix: "Add lakepass to the audiences" },
      { id: "clock", title: "Clock", status: "skipped", detail: "not tried" },
    ],
  };
}

export function cardContext(over: Partial<CardContext> = {}): CardContext {
  return { now: NOW, busy: new Set(), diagnoses: new Map(), ...over };
}

/** Callbacks that record their calls, as `[name, ...args]`. */
export function recorder<T extends object>(names: (keyof T & string)[]): { on: T; calls: [string, ...unknown[]][] } {
  const calls: [string, ...unknown[]][] = [];
  const on = Object.fromEntries(names.map((n) => [n, (...args: unknown[]) => void calls.push([n, ...args])])) as T;
  return { on, calls };
}

export const CARD_ACTIONS: (keyof CardActions)[] = ["activate", "edit", "remove", "diagnose", "signIn", "launch"];

/** The element with `data-testid`, or a failed test. */
export function byTestId(root: Element, id: string): HTMLElement {
  const el = root.querySelector<HTMLElement>(`[data-testid="${id}"]`);
  if (!el) throw new Error(`no element with data-testid="${id}"`);
  return el;
}
