// Form shaping before anything is sent: required fields, words into lists, a port into a number.
// The rules of what is valid live in the core alone: it validates the whole config (ConfigDoc)
// before saving, and its answer names the field at fault.
import type { IdpForm, SubjectTokenKind, WorkspaceForm } from "./types";
import { words } from "./format";

export type Problems = Record<string, string>;

/** The tokens a workspace may exchange, as the token picker names them (first: the default). A
 * kind renamed or added in Rust fails `tsc` here. */
export const SUBJECT_TOKENS: Record<SubjectTokenKind, string> = { id_token: "id_token (usual)", access_token: "access_token" };
export const DEFAULT_SUBJECT_TOKEN: SubjectTokenKind = "id_token";

function isSubjectToken(t: string): t is SubjectTokenKind {
  return Object.keys(SUBJECT_TOKENS).includes(t);
}

/** Required fields: only presence is checked here. What a valid name, profile, workspace URL or
 * issuer is, is the core's rule alone (config validation); the backend's answer names the field
 * at fault and the dialog shows it there, so the dashboard keeps no copy of those rules. */
export function requiredProblem(value: string, what: string): string | null {
  return value.trim() ? null : `Enter the ${what}.`;
}

export function nameProblem(name: string, taken: string[], editing: boolean): string | null {
  const n = name.trim();
  if (!n) return "Give it a short name, e.g. dev.";
  if (!editing && taken.includes(n)) return `“${n}” already exists; choose another name.`;
  return null;
}

function scopesProblem(scopes: string[]): string | null {
  return scopes.some((s) => /[^\x21-\x7e]/.test(s)) ? "Scopes are plain words separated by spaces." : null;
}

export interface WorkspaceInput {
  name: string;
  idp: string;
  host: string;
  scopes: string;
  token: string;
  client_id: string;
  profile: string;
}

export function checkWorkspace(
  f: WorkspaceInput,
  ctx: { names: string[]; idps: string[]; editing: boolean },
): { problems: Problems; form: WorkspaceForm | null } {
  const p: Problems = {};
  const name = nameProblem(f.name, ctx.names, ctx.editing);
  if (name) p.name = name;
  if (!ctx.idps.includes(f.idp)) p.idp = ctx.idps.length ? "Pick the identity provider this workspace trusts." : "Add an identity provider first.";
  const host = requiredProblem(f.host, "workspace URL");
  if (host) p.host = host;
  const scopes = words(f.scopes);
  const sp = scopesProblem(scopes);
  if (sp) p.scopes = sp;
  if (!isSubjectToken(f.token)) p.token = `Choose ${Object.keys(SUBJECT_TOKENS).join(" or ")}.`;
  if (Object.keys(p).length) return { problems: p, form: null };
  return {
    problems: p,
    form: {
      idp: f.idp,
      host: f.host.trim(),
      scopes,
      token: f.token,
      client_id: f.client_id.trim() || null,
      profile: f.profile.trim() || null,
    },
  };
}

export interface IdpInput {
  name: string;
  issuer: string;
  client_id: string;
  scopes: string;
  redirect_port: string;
}

export function checkIdp(f: IdpInput, ctx: { names: string[]; editing: boolean }): { problems: Problems; form: IdpForm | null } {
  const p: Problems = {};
  const name = nameProblem(f.name, ctx.names, ctx.editing);
  if (name) p.name = name;
  // The issuer is compared as an exact string (a trailing slash matters): never rewrite it.
  const issuer = requiredProblem(f.issuer, "issuer URL");
  if (issuer) p.issuer = issuer;
  if (!f.client_id.trim()) p.client_id = "Copy the client (application) id registered at the IdP.";
  const scopes = words(f.scopes);
  const sp = scopesProblem(scopes);
  if (sp) p.scopes = sp;
  let port: number | null = null;
  if (f.redirect_port.trim()) {
    port = Number(f.redirect_port.trim());
    if (!Number.isInteger(port) || port < 0 || port > 65535) p.redirect_port = "A port is a whole number from 0 to 65535 (0 = any).";
  }
  if (Object.keys(p).length) return { problems: p, form: null };
  return { problems: p, form: { issuer: f.issuer.trim(), client_id: f.client_id.trim(), scopes, redirect_port: port } };
}

/** The form field a backend error names: `workspace.dev.host` → `host`. */
export function fieldOf(field: string | null): string | null {
  if (!field) return null;
  const parts = field.split(".");
  return parts.length >= 3 ? parts[2] : parts[parts.length - 1];
}
