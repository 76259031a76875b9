// The dashboard's only way to the app: one Tauri command, `call`, and two events, behind an
// interface that tests replace with a fake. The calls and what each answers are the Rust types
// `Call` and `Answered` (crates/app/src/remote.rs), generated into generated/ by ts-rs: a call
// renamed, removed or given other arguments on the Rust side fails `tsc` here.
import type { Answered } from "./generated/Answered";
import type { Call } from "./generated/Call";
import type { AppError, AppEvent, AppView } from "./types";

/** A call the page may send: the socket's own `follow` and the tray's `show_dashboard` are not. */
export type DashboardCall = Exclude<Call, { call: "follow" | "show_dashboard" }>;
/** A call's name, as the Rust side spells it. */
export type CallName = DashboardCall["call"];
/** The arguments of the call named `N`. */
export type ArgsOf<N extends CallName> = Omit<Extract<DashboardCall, { call: N }>, "call">;
/** What the call named `N` answers; `void` when it answers only success (`null` on the wire). */
export type AnswerTo<N extends CallName> = Extract<Answered, { call: N }> extends { value: infer V } ? V : void;

/** Every call the page may send has an answer type (`true`), else this names the ones without. */
type Unanswered = Exclude<CallName, Answered["call"]>;
export const everyCallHasAnAnswer: [Unanswered] extends [never] ? true : Unanswered = true;

export interface Backend {
  getView(): Promise<AnswerTo<"get_view">>;
  getEvents(): Promise<AnswerTo<"get_events">>;
  setActive(name: ArgsOf<"set_active">["name"]): Promise<AnswerTo<"set_active">>;
  refreshNow(): Promise<AnswerTo<"refresh_now">>;
  signIn(idp: ArgsOf<"sign_in">["idp"]): Promise<AnswerTo<"sign_in">>;
  signOut(idp: ArgsOf<"sign_out">["idp"]): Promise<AnswerTo<"sign_out">>;
  saveWorkspace(name: string, workspace: ArgsOf<"save_workspace">["workspace"], replace: boolean): Promise<AnswerTo<"save_workspace">>;
  removeWorkspace(name: string): Promise<AnswerTo<"remove_workspace">>;
  saveIdp(name: string, idp: ArgsOf<"save_idp">["idp"], replace: boolean): Promise<AnswerTo<"save_idp">>;
  removeIdp(name: string): Promise<AnswerTo<"remove_idp">>;
  /** Launch an agent (a name from the view's `agents`; `terminal` opens a terminal). */
  launch(agent: ArgsOf<"launch">["agent"], workspace: string): Promise<AnswerTo<"launch">>;
  diagnose(workspace: string): Promise<AnswerTo<"diagnose">>;
  getAutostart(): Promise<AnswerTo<"get_autostart">>;
  setAutostart(enabled: boolean): Promise<AnswerTo<"set_autostart">>;
  /** The first-run set-up: the core's IdP presets, a pasted URL's host, team files, the devstack. */
  idpPresets(): Promise<AnswerTo<"idp_presets">>;
  saveIdpPreset(name: string, form: ArgsOf<"save_idp_preset">["form"]): Promise<AnswerTo<"save_idp_preset">>;
  workspaceHost(url: string): Promise<AnswerTo<"workspace_host">>;
  previewTeam(name: string, text: string): Promise<AnswerTo<"preview_team">>;
  importTeam(name: string, text: string, replace: boolean, trustedHosts: string[]): Promise<AnswerTo<"import_team">>;
  tryLocally(): Promise<AnswerTo<"try_locally">>;
  onView(cb: (v: AppView) => void): void;
  onEvents(cb: (e: AppEvent[]) => void): void;
}

/** Whatever was thrown, as an AppError. */
export function asError(e: unknown): AppError {
  if (e && typeof e === "object" && "message" in e && "kind" in e) return e as AppError;
  return { kind: "unexpected", message: String(e), field: null };
}

/** Sends calls through `invoke` (Tauri's, or a test's), typed by the call's name. */
export function caller(invoke: (cmd: "call", args: { call: DashboardCall }) => Promise<unknown>) {
  return <C extends DashboardCall>(call: C) => invoke("call", { call }) as Promise<AnswerTo<C["call"]>>;
}

/** The backend over Tauri's IPC, each method one call. */
export function callBackend(call: ReturnType<typeof caller>, listen: Pick<Backend, "onView" | "onEvents">): Backend {
  return {
    getView: () => call({ call: "get_view" }),
    getEvents: () => call({ call: "get_events" }),
    setActive: (name) => call({ call: "set_active", name }),
    refreshNow: () => call({ call: "refresh_now" }),
    signIn: (idp) => call({ call: "sign_in", idp }),
    signOut: (idp) => call({ call: "sign_out", idp }),
    saveWorkspace: (name, workspace, replace) => call({ call: "save_workspace", name, workspace, replace }),
    removeWorkspace: (name) => call({ call: "remove_workspace", name }),
    saveIdp: (name, idp, replace) => call({ call: "save_idp", name, idp, replace }),
    removeIdp: (name) => call({ call: "remove_idp", name }),
    launch: (agent, workspace) => call({ call: "launch", agent, workspace }),
    diagnose: (workspace) => call({ call: "diagnose", workspace }),
    getAutostart: () => call({ call: "get_autostart" }),
    setAutostart: (enabled) => call({ call: "set_autostart", enabled }),
    idpPresets: () => call({ call: "idp_presets" }),
    saveIdpPreset: (name, form) => call({ call: "save_idp_preset", name, form }),
    workspaceHost: (url) => call({ call: "workspace_host", url }),
    previewTeam: (name, text) => call({ call: "preview_team", name, text }),
    importTeam: (name, text, replace, trustedHosts) => call({ call: "import_team", name, text, replace, trusted_hosts: trustedHosts }),
    tryLocally: () => call({ call: "try_locally" }),
    onView: listen.onView,
    onEvents: listen.onEvents,
  };
}

export async function tauriBackend(): Promise<Backend> {
  const { invoke } = await import("@tauri-apps/api/core");
  const { listen } = await import("@tauri-apps/api/event");
  return callBackend(caller(invoke), {
    onView: (cb) => void listen<AppView>("lakepass://view", (e) => cb(e.payload)),
    onEvents: (cb) => void listen<AppEvent[]>("lakepass://events", (e) => cb(e.payload)),
  });
}
