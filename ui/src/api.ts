// The dashboard's only way to the app: Tauri commands and events, behind an interface that tests
// replace with a fake.
import type { AppError, AppEvent, AppView, DoctorReport, IdpForm, PresetForm, PresetView, TeamPlan, WorkspaceForm } from "./types";

export interface Backend {
  getView(): Promise<AppView>;
  getEvents(): Promise<AppEvent[]>;
  setActive(name: string): Promise<void>;
  refreshNow(): Promise<void>;
  signIn(idp: string): Promise<void>;
  signOut(idp: string): Promise<void>;
  saveWorkspace(name: string, workspace: WorkspaceForm, replace: boolean): Promise<void>;
  removeWorkspace(name: string): Promise<void>;
  saveIdp(name: string, idp: IdpForm, replace: boolean): Promise<void>;
  removeIdp(name: string): Promise<void>;
  launchClaude(workspace: string): Promise<void>;
  openTerminal(workspace: string): Promise<void>;
  diagnose(workspace: string): Promise<DoctorReport>;
  getAutostart(): Promise<boolean>;
  setAutostart(enabled: boolean): Promise<void>;
  /** The first-run set-up: the core's IdP presets, a pasted URL's host, team files, the devstack. */
  idpPresets(): Promise<PresetView[]>;
  saveIdpPreset(name: string, form: PresetForm): Promise<void>;
  workspaceHost(url: string): Promise<string>;
  previewTeam(name: string, text: string): Promise<TeamPlan>;
  importTeam(name: string, text: string, replace: boolean): Promise<TeamPlan>;
  tryLocally(): Promise<void>;
  onView(cb: (v: AppView) => void): void;
  onEvents(cb: (e: AppEvent[]) => void): void;
}

/** Whatever was thrown, as an AppError. */
export function asError(e: unknown): AppError {
  if (e && typeof e === "object" && "message" in e && "kind" in e) return e as AppError;
  return { kind: "unexpected", message: String(e), field: null };
}

export async function tauriBackend(): Promise<Backend> {
  const { invoke } = await import("@tauri-apps/api/core");
  const { listen } = await import("@tauri-apps/api/event");
  return {
    getView: () => invoke("get_view"),
    getEvents: () => invoke("get_events"),
    setActive: (name) => invoke("set_active", { name }),
    refreshNow: () => invoke("refresh_now"),
    signIn: (idp) => invoke("sign_in", { idp }),
    signOut: (idp) => invoke("sign_out", { idp }),
    saveWorkspace: (name, workspace, replace) => invoke("save_workspace", { name, workspace, replace }),
    removeWorkspace: (name) => invoke("remove_workspace", { name }),
    saveIdp: (name, idp, replace) => invoke("save_idp", { name, idp, replace }),
    removeIdp: (name) => invoke("remove_idp", { name }),
    launchClaude: (workspace) => invoke("launch_claude", { workspace }),
    openTerminal: (workspace) => invoke("open_terminal", { workspace }),
    diagnose: (workspace) => invoke("diagnose", { workspace }),
    getAutostart: () => invoke("get_autostart"),
    setAutostart: (enabled) => invoke("set_autostart", { enabled }),
    idpPresets: () => invoke("idp_presets"),
    saveIdpPreset: (name, form) => invoke("save_idp_preset", { name, form }),
    workspaceHost: (url) => invoke("workspace_host", { url }),
    previewTeam: (name, text) => invoke("preview_team", { name, text }),
    importTeam: (name, text, replace) => invoke("import_team", { name, text, replace }),
    tryLocally: () => invoke("try_locally"),
    onView: (cb) => void listen<AppView>("lakepass://view", (e) => cb(e.payload)),
    onEvents: (cb) => void listen<AppEvent[]>("lakepass://events", (e) => cb(e.payload)),
  };
}
