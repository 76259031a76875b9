// The shapes the Rust side sends (src-tauri/src/view.rs, events.rs, host.rs). No secrets, ever.

export type TokenState = "fresh" | "expiring" | "refreshing" | "failed" | "needs_login";

export interface WorkspaceView {
  name: string;
  host: string;
  profile: string;
  idp: string;
  scopes: string[];
  token: string;
  client_id: string | null;
  state: TokenState;
  expires_at: number | null;
  refresh_due_at: number | null;
  last_error: string | null;
  hint: string | null;
}

export interface IdpView {
  name: string;
  issuer: string;
  client_id: string;
  scopes: string[];
  redirect_port: number;
  signed_in: boolean;
  signing_in: boolean;
  workspaces: string[];
}

export interface AppView {
  workspaces: WorkspaceView[];
  idps: IdpView[];
  active: string | null;
  config_path: string;
  config_error: string | null;
  vault: string;
  vault_fallback: string | null;
  at: number;
}

export interface AppEvent {
  at: number;
  level: "info" | "warn";
  workspace: string | null;
  text: string;
}

export interface AppError {
  kind: string;
  message: string;
  field: string | null;
}

export interface WorkspaceForm {
  idp: string;
  host: string;
  scopes: string[];
  token: string | null;
  client_id: string | null;
  profile: string | null;
}

export interface IdpForm {
  issuer: string;
  client_id: string;
  scopes: string[];
  redirect_port: number | null;
}

export interface DoctorStep {
  id: string;
  title: string;
  status: "ok" | "warning" | "failed" | "skipped";
  detail: string;
  fix?: string;
}

export interface DoctorReport {
  workspace: string | null;
  host: string | null;
  ok: boolean;
  steps: DoctorStep[];
}
