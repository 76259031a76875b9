// The add/edit forms for a workspace and an identity provider, shown over the page as a modal
// dialog (`role="dialog"`, `aria-modal`, named by its title; Tab and Shift+Tab cycle inside it;
// the controller makes the page behind inert and sends focus back to the opener). Pure: the
// dialog's state in, DOM out; saving and closing call back into the controller, which checks the
// form (validate.ts) and puts the problems found back into the dialog's state.
import { h } from "../dom";
import type { AppView, IdpView, SubjectTokenKind, WorkspaceView } from "../types";
import { DEFAULT_SUBJECT_TOKEN, SUBJECT_TOKENS, type Problems } from "../validate";

/** The open form: what it edits (null: adds a new one), the problems found, the backend's error. */
export type Dialog =
  | { kind: "workspace"; editing: WorkspaceView | null; problems: Problems; error: string | null }
  | { kind: "idp"; editing: IdpView | null; problems: Problems; error: string | null };

/** What the dialog's buttons ask the controller to do. */
export interface DialogActions {
  close(): void;
  submit(form: HTMLFormElement): void;
}

/** A labelled form field with its problem (marked invalid) or else its help text. */
export function field(name: string, label: string, input: HTMLElement, problems: Problems, help?: string): HTMLElement {
  const p = problems[name];
  if (p) input.setAttribute("aria-invalid", "true");
  return h(
    "label",
    { class: "field" },
    h("span", { class: "label" }, label),
    input,
    p ? h("span", { class: "error", "data-testid": `error-${name}` }, p) : help ? h("span", { class: "help muted" }, help) : null,
  );
}

function input(name: string, value: string, attrs: Record<string, string | boolean> = {}): HTMLInputElement {
  return h("input", { name, value, "data-testid": `field-${name}`, autocomplete: "off", spellcheck: "false", ...attrs });
}

function workspaceFields(w: WorkspaceView | null, v: AppView, problems: Problems): HTMLElement[] {
  const idpSel = h(
    "select",
    { name: "idp", "data-testid": "field-idp" },
    ...v.idps.map((i) => h("option", { value: i.name, selected: (w?.idp ?? v.idps[0]?.name) === i.name }, i.name)),
  );
  const tokenSel = h(
    "select",
    { name: "token", "data-testid": "field-token" },
    ...(Object.keys(SUBJECT_TOKENS) as SubjectTokenKind[]).map((t) =>
      h("option", { value: t, selected: (w?.token ?? DEFAULT_SUBJECT_TOKEN) === t }, SUBJECT_TOKENS[t]),
    ),
  );
  return [
    field("name", "Name", input("name", w?.name ?? "", w ? { disabled: true } : { placeholder: "dev" }), problems, "Short, used in menus and commands."),
    field("host", "Workspace URL", input("host", w?.host ?? "", { placeholder: "https://adb-1234567890.12.azuredatabricks.net" }), problems),
    field("idp", "Identity provider", idpSel, problems),
    field(
      "scopes",
      "Scopes",
      input("scopes", (w?.scopes ?? ["all-apis"]).join(" ")),
      problems,
      "Space-separated; all-apis, or least privilege such as “sql serving”.",
    ),
    field("profile", "~/.databrickscfg profile", input("profile", w?.profile ?? "", { placeholder: "same as the name" }), problems),
    h(
      "details",
      { class: "advanced" },
      h("summary", { "data-testid": "dialog-advanced" }, "Advanced"),
      field("token", "Token to exchange", tokenSel, problems),
      field("client_id", "Service principal id", input("client_id", w?.client_id ?? "", { placeholder: "only for workload identity federation" }), problems),
    ),
  ];
}

function idpFields(i: IdpView | null, problems: Problems): HTMLElement[] {
  return [
    field("name", "Name", input("name", i?.name ?? "", i ? { disabled: true } : { placeholder: "corp" }), problems),
    field(
      "issuer",
      "Issuer URL",
      input("issuer", i?.issuer ?? "", { placeholder: "https://login.microsoftonline.com/<tenant>/v2.0" }),
      problems,
      "Exactly as in your tokens’ iss claim; a trailing slash matters.",
    ),
    field("client_id", "Client id", input("client_id", i?.client_id ?? ""), problems, "The application registered at the IdP for Lakepass."),
    field(
      "scopes",
      "Scopes",
      input("scopes", (i?.scopes ?? ["openid", "profile", "email", "offline_access"]).join(" ")),
      problems,
      "Keep offline_access so Lakepass can renew your session.",
    ),
    field(
      "redirect_port",
      "Redirect port",
      input("redirect_port", i && i.redirect_port ? String(i.redirect_port) : "", { placeholder: "any", inputmode: "numeric" }),
      problems,
      "Only if your IdP needs a fixed loopback port.",
    ),
  ];
}

/** The open dialog over the page; `saving` while its save runs. */
export function dialog(d: Dialog, v: AppView, saving: boolean, on: DialogActions): HTMLElement {
  const title =
    d.kind === "workspace"
      ? d.editing
        ? `Edit workspace ${d.editing.name}`
        : "Add a workspace"
      : d.editing
        ? `Edit identity provider ${d.editing.name}`
        : "Add an identity provider";
  const body = d.kind === "workspace" ? workspaceFields(d.editing, v, d.problems) : idpFields(d.editing, d.problems);
  const form = h(
    "form",
    {
      class: "dialog",
      "data-testid": `dialog-${d.kind}`,
      onsubmit: (e) => {
        e.preventDefault();
        on.submit(form);
      },
    },
    h("h2", { id: "dialog-title" }, title),
    // Said through the live region by the controller when it happens, not on every redraw.
    d.error ? h("div", { class: "banner bad", "data-testid": "dialog-error" }, d.error) : null,
    ...body,
    h(
      "div",
      { class: "actions end" },
      h("button", { type: "button", "data-testid": "dialog-cancel", onclick: () => on.close() }, "Cancel"),
      h("button", { type: "submit", class: "primary", "data-testid": "dialog-save", disabled: saving }, saving ? "Saving…" : "Save"),
    ),
  );
  const box: HTMLDivElement = h(
    "div",
    {
      class: "dialog-box",
      role: "dialog",
      "aria-modal": "true",
      "aria-labelledby": "dialog-title",
      "data-testid": "dialog",
      onkeydown: (e) => trapTab(box, e as KeyboardEvent),
    },
    form,
  );
  return h(
    "div",
    {
      class: "overlay",
      onclick: (e) => {
        if (e.target === e.currentTarget) on.close();
      },
      onkeydown: (e) => {
        const k = e as KeyboardEvent;
        if (k.key === "Escape" && !k.defaultPrevented) {
          k.preventDefault();
          on.close();
        }
      },
    },
    box,
  );
}

/** The controls Tab can reach inside `box`, in order. */
export function tabbable(box: HTMLElement): HTMLElement[] {
  const sel =
    'input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), button:not([disabled]), summary, a[href], [tabindex]:not([tabindex="-1"])';
  // Fields inside a closed <details> (the Advanced section) are not reachable.
  return Array.from(box.querySelectorAll<HTMLElement>(sel)).filter((el) => {
    const closed = el.closest("details:not([open])");
    return !closed || (el.tagName === "SUMMARY" && el.parentElement === closed);
  });
}

/** Keeps Tab inside the dialog: past the last control it wraps to the first, and back. */
export function trapTab(box: HTMLElement, e: KeyboardEvent): void {
  if (e.key !== "Tab") return;
  const all = tabbable(box);
  if (!all.length) return;
  const first = all[0];
  const last = all[all.length - 1];
  const at = box.ownerDocument.activeElement;
  if (e.shiftKey && (at === first || !box.contains(at))) {
    e.preventDefault();
    last.focus();
  } else if (!e.shiftKey && (at === last || !box.contains(at))) {
    e.preventDefault();
    first.focus();
  }
}

/** What is typed in a form, by field name. */
export function formValues(form: HTMLFormElement): Record<string, string> {
  const out: Record<string, string> = {};
  for (const el of Array.from(form.elements) as HTMLInputElement[]) if (el.name) out[el.name] = el.value;
  return out;
}

/** Puts typed values back into a re-rendered form (fields that are disabled keep theirs). */
export function restoreForm(form: HTMLFormElement, values: Record<string, string>): void {
  for (const [k, val] of Object.entries(values)) {
    const el = form.elements.namedItem(k) as HTMLInputElement | null;
    if (el && !el.disabled) el.value = val;
  }
}
