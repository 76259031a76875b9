// The dashboard: cards per workspace, identity providers, recent events, settings, and the
// add/edit forms. Re-rendered whole on every view from the app (a handful of cards); a 1 s
// timer only rewrites the countdown texts.
import { asError, type Backend } from "./api";
import { h } from "./dom";
import { ago, clockTime, countdown, stateLabel, stateTone } from "./format";
import type { AppEvent, AppView, DoctorReport, IdpView, WorkspaceView } from "./types";
import { checkIdp, checkWorkspace, fieldOf, type Problems } from "./validate";

type Dialog =
  | { kind: "workspace"; editing: WorkspaceView | null; problems: Problems; error: string | null }
  | { kind: "idp"; editing: IdpView | null; problems: Problems; error: string | null };

export class Dashboard {
  view: AppView | null = null;
  events: AppEvent[] = [];
  autostart = false;
  busy = new Set<string>();
  notice: { tone: "ok" | "bad"; text: string } | null = null;
  dialog: Dialog | null = null;
  diagnoses = new Map<string, DoctorReport>();
  timer: ReturnType<typeof setInterval> | null = null;

  constructor(
    readonly root: HTMLElement,
    readonly backend: Backend,
    readonly now: () => number = () => Date.now() / 1000,
  ) {}

  async start(): Promise<void> {
    this.backend.onView((v) => this.setView(v));
    this.backend.onEvents((e) => {
      this.events = e;
      this.renderEvents();
    });
    const [view, events, autostart] = await Promise.all([
      this.backend.getView(),
      this.backend.getEvents(),
      this.backend.getAutostart().catch(() => false),
    ]);
    this.events = events;
    this.autostart = autostart;
    this.setView(view);
    this.timer = setInterval(() => this.tick(), 1000);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  setView(v: AppView): void {
    this.view = v;
    this.render();
  }

  /** Runs an action, marking `key` busy and showing its error in the banner. */
  async act(key: string, f: () => Promise<void>, done?: string): Promise<boolean> {
    this.busy.add(key);
    this.render();
    try {
      await f();
      if (done) this.flash(done);
      return true;
    } catch (e) {
      this.notice = { tone: "bad", text: asError(e).message };
      return false;
    } finally {
      this.busy.delete(key);
      try {
        this.view = await this.backend.getView();
        this.events = await this.backend.getEvents();
      } catch {
        /* keep the last view */
      }
      this.render();
    }
  }

  /** A success message that goes away by itself. */
  flash(text: string): void {
    const n = { tone: "ok" as const, text };
    this.notice = n;
    setTimeout(() => {
      if (this.notice === n) {
        this.notice = null;
        this.render();
      }
    }, 6000);
  }

  tick(): void {
    const now = this.now();
    for (const el of this.root.querySelectorAll<HTMLElement>("[data-expires]")) {
      const exp = Number(el.dataset.expires);
      el.textContent = countdown(Number.isFinite(exp) ? exp : null, now);
    }
    for (const el of this.root.querySelectorAll<HTMLElement>("[data-ago]")) {
      el.textContent = ago(Number(el.dataset.ago), now);
    }
  }

  render(): void {
    const v = this.view;
    if (!v) return;
    const focused = document.activeElement?.getAttribute("data-testid");
    // A new view from the app must not wipe what the user is typing.
    const open = this.root.querySelector<HTMLFormElement>(".dialog");
    const typed = open && this.dialog ? this.formValues(open) : null;
    const advanced = open?.querySelector("details")?.open ?? false;
    this.root.replaceChildren(
      this.header(v),
      this.banners(v),
      h("main", { class: "layout" },
        h("section", { class: "workspaces", "aria-label": "Workspaces" },
          h("div", { class: "section-head" }, h("h2", {}, "Workspaces"),
            h("button", { class: "ghost", "data-testid": "add-workspace", onclick: () => this.openDialog({ kind: "workspace", editing: null, problems: {}, error: null }) }, "+ Add workspace")),
          v.workspaces.length
            ? h("div", { class: "cards" }, ...v.workspaces.map((w) => this.card(w, v)))
            : h("p", { class: "empty" }, v.idps.length ? "No workspace yet. Add the Databricks workspaces you use." : "Start by adding your company's identity provider, then a workspace."),
        ),
        h("aside", { class: "side" }, this.idps(v), this.eventsPanel(), this.settings(v)),
      ),
      this.dialogEl(v) ?? "",
    );
    if (typed) this.restoreForm(typed);
    const details = this.root.querySelector<HTMLDetailsElement>(".dialog details");
    if (details && advanced) details.open = true;
    if (focused) this.root.querySelector<HTMLElement>(`[data-testid="${focused}"]`)?.focus();
  }

  header(v: AppView): HTMLElement {
    const anySignedIn = v.idps.some((i) => i.signed_in);
    return h("header", { class: "top" },
      h("div", { class: "brand" }, h("span", { class: "logo", "aria-hidden": "true" }), h("div", {}, h("h1", {}, "Lakepass"), h("p", { class: "muted" }, "Databricks tokens from your company sign-in, kept fresh"))),
      h("button", { class: "primary", "data-testid": "refresh-now", disabled: !anySignedIn || this.busy.has("refresh"), onclick: () => this.act("refresh", () => this.backend.refreshNow(), "Fresh tokens exchanged.") },
        this.busy.has("refresh") ? "Refreshing…" : "Refresh now"),
    );
  }

  banners(v: AppView): HTMLElement {
    const box = h("div", { class: "banners" });
    if (v.config_error) box.append(h("div", { class: "banner bad", role: "alert", "data-testid": "config-error" }, h("strong", {}, "Lakepass is not set up yet. "), v.config_error));
    if (v.vault_fallback) box.append(h("div", { class: "banner warn" }, h("strong", {}, "Secrets are in a plain file. "), `The OS keyring is unavailable (${v.vault_fallback}); tokens are kept in ${v.vault}, protected only by its file permissions.`));
    if (this.notice) {
      const n = this.notice;
      box.append(h("div", { class: `banner ${n.tone}`, role: n.tone === "bad" ? "alert" : "status", "data-testid": "notice" }, n.text,
        h("button", { class: "link", "aria-label": "Dismiss", onclick: () => { this.notice = null; this.render(); } }, "×")));
    }
    return box;
  }

  card(w: WorkspaceView, v: AppView): HTMLElement {
    const now = this.now();
    const tone = stateTone(w.state, w.expires_at, now);
    const active = v.active === w.name;
    const signedIn = w.state !== "needs_login";
    const idp = v.idps.find((i) => i.name === w.idp);
    return h("article", { class: `card tone-${tone}${active ? " active" : ""}`, "data-testid": `card-${w.name}`, "data-state": w.state },
      h("div", { class: "card-head" },
        h("h3", {}, w.name),
        active ? h("span", { class: "pill", "data-testid": `active-${w.name}` }, "Active")
               : h("button", { class: "link", "data-testid": `activate-${w.name}`, onclick: () => this.act(`active-${w.name}`, () => this.backend.setActive(w.name)) }, "Make active"),
        h("span", { class: `state ${tone}`, "data-testid": `state-${w.name}` }, h("span", { class: "dot", "aria-hidden": "true" }), stateLabel(w.state, w.expires_at, now)),
      ),
      h("div", { class: "host-row" },
        h("p", { class: "host mono" }, w.host),
        h("button", { class: "link small", "data-testid": `edit-${w.name}`, onclick: () => this.openDialog({ kind: "workspace", editing: w, problems: {}, error: null }) }, "Edit"),
        h("button", { class: "link small danger", "data-testid": `remove-${w.name}`, onclick: () => { if (confirm(`Remove workspace ${w.name} from Lakepass? Its token stays valid until it expires.`)) void this.act(`rm-${w.name}`, () => this.backend.removeWorkspace(w.name), `Removed ${w.name}.`); } }, "Remove")),
      h("div", { class: "countdown-row" },
        h("span", { class: `countdown mono${w.expires_at ? "" : " none"}`, "data-testid": `countdown-${w.name}`, "data-expires": w.expires_at ?? "none" }, countdown(w.expires_at, now)),
        h("span", { class: "muted" }, w.expires_at ? `left · renews at ${clockTime(w.refresh_due_at ?? w.expires_at)}` : "no token yet"),
      ),
      h("dl", { class: "facts" },
        h("dt", {}, "Scopes"), h("dd", {}, ...w.scopes.map((s) => h("span", { class: "chip" }, s))),
        h("dt", {}, "Profile"), h("dd", { class: "mono" }, w.profile),
        h("dt", {}, "Signs in with"), h("dd", {}, w.idp, w.client_id ? ` · as service principal ${w.client_id}` : ""),
      ),
      w.hint || w.last_error
        ? h("div", { class: `problem ${tone}`, "data-testid": `problem-${w.name}` },
            w.hint ? h("p", { class: "hint" }, w.hint) : null,
            w.last_error ? h("details", {}, h("summary", {}, "Details"), h("p", { class: "mono small" }, w.last_error)) : null,
            tone === "bad"
              ? h("button", { class: "link small", "data-testid": `diagnose-${w.name}`, disabled: this.busy.has(`doctor-${w.name}`), onclick: () => this.diagnose(w.name) },
                  this.busy.has(`doctor-${w.name}`) ? "Diagnosing…" : "Diagnose")
              : null,
            this.diagnosis(w.name))
        : null,
      h("div", { class: "actions" },
        !signedIn && idp
          ? h("button", { class: "primary", "data-testid": `signin-card-${w.name}`, disabled: idp.signing_in, onclick: () => this.signIn(idp.name) }, idp.signing_in ? "Waiting for the browser…" : `Sign in to ${idp.name}`)
          : null,
        h("button", { disabled: !signedIn || this.busy.has(`claude-${w.name}`), onclick: () => this.act(`claude-${w.name}`, () => this.backend.launchClaude(w.name), `Claude Code is starting for ${w.name}.`) }, "Launch Claude Code"),
        h("button", { disabled: !signedIn, onclick: () => this.act(`term-${w.name}`, () => this.backend.openTerminal(w.name), `A terminal for ${w.name} is opening.`) }, "Open terminal"),
      ),
    );
  }

  diagnose(ws: string): void {
    void this.act(`doctor-${ws}`, async () => {
      this.diagnoses.set(ws, await this.backend.diagnose(ws));
    });
  }

  /** The doctor's steps for a workspace, once asked for. */
  diagnosis(ws: string): HTMLElement | null {
    const r = this.diagnoses.get(ws);
    if (!r) return null;
    const mark = { ok: "✓", warning: "!", failed: "✗", skipped: "–" } as const;
    return h("ol", { class: "doctor", "data-testid": `doctor-${ws}` },
      ...r.steps.map((s) =>
        h("li", { class: `step ${s.status}` },
          h("span", { class: "mark", "aria-label": s.status }, mark[s.status]),
          h("div", {}, h("strong", {}, s.title), s.status !== "skipped" ? h("p", { class: "small" }, s.detail) : null,
            s.fix ? h("p", { class: "small fix" }, s.fix) : null))));
  }

  signIn(idp: string): void {
    void this.act(`signin-${idp}`, () => this.backend.signIn(idp), `Signed in to ${idp}.`);
  }

  idps(v: AppView): HTMLElement {
    return h("section", { class: "panel", "aria-label": "Identity providers" },
      h("div", { class: "section-head" }, h("h2", {}, "Identity providers"),
        h("button", { class: "ghost", "data-testid": "add-idp", onclick: () => this.openDialog({ kind: "idp", editing: null, problems: {}, error: null }) }, "+ Add")),
      v.idps.length === 0 ? h("p", { class: "empty" }, "None yet: add the OIDC provider your company signs in with (Entra ID, Okta, Auth0, Keycloak…).") : null,
      ...v.idps.map((i) =>
        h("div", { class: "idp", "data-testid": `idp-${i.name}` },
          h("div", { class: "idp-main" },
            h("strong", {}, i.name),
            h("span", { class: `state ${i.signed_in ? "ok" : "off"}` }, h("span", { class: "dot" }), i.signing_in ? "Waiting for the browser…" : i.signed_in ? "Signed in" : "Signed out"),
            h("p", { class: "mono small muted" }, i.issuer)),
          h("div", { class: "actions" },
            i.signed_in
              ? h("button", { "data-testid": `signout-${i.name}`, onclick: () => this.act(`signout-${i.name}`, () => this.backend.signOut(i.name), `Signed out of ${i.name}.`) }, "Sign out")
              : h("button", { class: "primary", "data-testid": `signin-${i.name}`, disabled: i.signing_in, onclick: () => this.signIn(i.name) }, i.signing_in ? "Waiting…" : "Sign in"),
            h("button", { class: "link", onclick: () => this.openDialog({ kind: "idp", editing: i, problems: {}, error: null }) }, "Edit"),
            h("button", { class: "link danger", onclick: () => { if (confirm(`Remove identity provider ${i.name}?`)) void this.act(`rm-idp-${i.name}`, () => this.backend.removeIdp(i.name), `Removed ${i.name}.`); } }, "Remove"),
          ),
        ),
      ),
    );
  }

  eventsPanel(): HTMLElement {
    const now = this.now();
    return h("section", { class: "panel", "aria-label": "Recent events" },
      h("h2", {}, "Recent events"),
      h("ol", { class: "events", "data-testid": "events" },
        ...(this.events.length
          ? this.events.slice(0, 30).map((e) =>
              h("li", { class: e.level },
                h("span", { class: "when muted", "data-ago": e.at, title: new Date(e.at * 1000).toLocaleString() }, ago(e.at, now)),
                h("span", { class: "body" }, e.workspace ? h("span", { class: "chip" }, e.workspace) : null, h("span", { class: "what", title: e.text }, e.text))))
          : [h("li", { class: "muted" }, "Nothing yet.")]),
      ),
    );
  }

  renderEvents(): void {
    const old = this.root.querySelector('[aria-label="Recent events"]');
    if (old) old.replaceWith(this.eventsPanel());
  }

  settings(v: AppView): HTMLElement {
    return h("section", { class: "panel", "aria-label": "Settings" },
      h("h2", {}, "Settings"),
      h("label", { class: "toggle" },
        h("input", { type: "checkbox", "data-testid": "autostart", checked: this.autostart, onchange: (e) => {
          const on = (e.target as HTMLInputElement).checked;
          void this.act("autostart", async () => { await this.backend.setAutostart(on); this.autostart = on; }, on ? "Lakepass will start when you log in." : "Lakepass will no longer start at login.");
        } }),
        "Start Lakepass when I log in"),
      h("p", { class: "small muted" }, "Config: ", h("span", { class: "mono" }, v.config_path)),
      h("p", { class: "small muted" }, "Secrets: ", v.vault || "—"),
    );
  }

  openDialog(d: Dialog): void {
    this.dialog = d;
    this.render();
    this.root.querySelector<HTMLInputElement>(".dialog input:not([disabled])")?.focus();
  }

  field(name: string, label: string, input: HTMLElement, problems: Problems, help?: string): HTMLElement {
    const p = problems[name];
    if (p) input.setAttribute("aria-invalid", "true");
    return h("label", { class: "field" }, h("span", { class: "label" }, label), input,
      p ? h("span", { class: "error", "data-testid": `error-${name}` }, p) : help ? h("span", { class: "help muted" }, help) : null);
  }

  dialogEl(v: AppView): HTMLElement | null {
    const d = this.dialog;
    if (!d) return null;
    const close = () => { this.dialog = null; this.render(); };
    const input = (name: string, value: string, attrs: Record<string, string | boolean> = {}) =>
      h("input", { name, value, "data-testid": `field-${name}`, autocomplete: "off", spellcheck: "false", ...attrs });
    let body: HTMLElement[];
    let title: string;
    if (d.kind === "workspace") {
      const w = d.editing;
      title = w ? `Edit workspace ${w.name}` : "Add a workspace";
      const idpSel = h("select", { name: "idp", "data-testid": "field-idp" }, ...v.idps.map((i) => h("option", { value: i.name, selected: (w?.idp ?? v.idps[0]?.name) === i.name }, i.name)));
      const tokenSel = h("select", { name: "token", "data-testid": "field-token" },
        h("option", { value: "id_token", selected: (w?.token ?? "id_token") === "id_token" }, "id_token (usual)"),
        h("option", { value: "access_token", selected: w?.token === "access_token" }, "access_token"));
      body = [
        this.field("name", "Name", input("name", w?.name ?? "", w ? { disabled: true } : { placeholder: "dev" }), d.problems, "Short, used in menus and commands."),
        this.field("host", "Workspace URL", input("host", w?.host ?? "", { placeholder: "https://adb-1234567890.12.azuredatabricks.net" }), d.problems),
        this.field("idp", "Identity provider", idpSel, d.problems),
        this.field("scopes", "Scopes", input("scopes", (w?.scopes ?? ["all-apis"]).join(" ")), d.problems, "Space-separated; all-apis, or least privilege such as “sql serving”."),
        this.field("profile", "~/.databrickscfg profile", input("profile", w?.profile ?? "", { placeholder: "same as the name" }), d.problems),
        h("details", { class: "advanced" }, h("summary", {}, "Advanced"),
          this.field("token", "Token to exchange", tokenSel, d.problems),
          this.field("client_id", "Service principal id", input("client_id", w?.client_id ?? "", { placeholder: "only for workload identity federation" }), d.problems)),
      ];
    } else {
      const i = d.editing;
      title = i ? `Edit identity provider ${i.name}` : "Add an identity provider";
      body = [
        this.field("name", "Name", input("name", i?.name ?? "", i ? { disabled: true } : { placeholder: "corp" }), d.problems),
        this.field("issuer", "Issuer URL", input("issuer", i?.issuer ?? "", { placeholder: "https://login.microsoftonline.com/<tenant>/v2.0" }), d.problems, "Exactly as in your tokens’ iss claim; a trailing slash matters."),
        this.field("client_id", "Client id", input("client_id", i?.client_id ?? ""), d.problems, "The application registered at the IdP for Lakepass."),
        this.field("scopes", "Scopes", input("scopes", (i?.scopes ?? ["openid", "profile", "email", "offline_access"]).join(" ")), d.problems, "Keep offline_access so Lakepass can renew your session."),
        this.field("redirect_port", "Redirect port", input("redirect_port", i && i.redirect_port ? String(i.redirect_port) : "", { placeholder: "any", inputmode: "numeric" }), d.problems, "Only if your IdP needs a fixed loopback port."),
      ];
    }
    const form = h("form", { class: "dialog", "data-testid": `dialog-${d.kind}`, "aria-label": title, onsubmit: (e) => { e.preventDefault(); void this.submit(form); } },
      h("h2", {}, title),
      d.error ? h("div", { class: "banner bad", role: "alert", "data-testid": "dialog-error" }, d.error) : null,
      ...body,
      h("div", { class: "actions end" },
        h("button", { type: "button", onclick: close }, "Cancel"),
        h("button", { type: "submit", class: "primary", "data-testid": "dialog-save", disabled: this.busy.has("save") }, this.busy.has("save") ? "Saving…" : "Save")));
    return h("div", { class: "overlay", onclick: (e) => { if (e.target === e.currentTarget) close(); }, onkeydown: (e) => { if ((e as KeyboardEvent).key === "Escape") close(); } }, form);
  }

  async submit(form: HTMLFormElement): Promise<void> {
    const d = this.dialog;
    const v = this.view;
    if (!d || !v) return;
    const val = (n: string) => (form.elements.namedItem(n) as HTMLInputElement | null)?.value ?? "";
    const name = d.editing ? d.editing.name : val("name");
    let save: (() => Promise<void>) | null = null;
    if (d.kind === "workspace") {
      const r = checkWorkspace(
        { name, idp: val("idp"), host: val("host"), scopes: val("scopes"), token: val("token") || "id_token", client_id: val("client_id"), profile: val("profile") },
        { names: v.workspaces.map((w) => w.name), idps: v.idps.map((i) => i.name), editing: !!d.editing },
      );
      d.problems = r.problems;
      if (r.form) { const f = r.form; save = () => this.backend.saveWorkspace(name.trim(), f, !!d.editing); }
    } else {
      const r = checkIdp(
        { name, issuer: val("issuer"), client_id: val("client_id"), scopes: val("scopes"), redirect_port: val("redirect_port") },
        { names: v.idps.map((i) => i.name), editing: !!d.editing },
      );
      d.problems = r.problems;
      if (r.form) { const f = r.form; save = () => this.backend.saveIdp(name.trim(), f, !!d.editing); }
    }
    if (!save) {
      this.keepForm(form);
      return;
    }
    const values = this.formValues(form);
    this.busy.add("save");
    try {
      await save();
      this.dialog = null;
      this.flash(`Saved ${name.trim()}.`);
    } catch (e) {
      const err = asError(e);
      const f = fieldOf(err.field);
      if (f && form.elements.namedItem(f)) d.problems = { [f]: err.message };
      else d.error = err.message;
    } finally {
      this.busy.delete("save");
    }
    this.view = await this.backend.getView().catch(() => this.view);
    this.render();
    if (this.dialog) this.restoreForm(values);
  }

  formValues(form: HTMLFormElement): Record<string, string> {
    const out: Record<string, string> = {};
    for (const el of Array.from(form.elements) as HTMLInputElement[]) if (el.name) out[el.name] = el.value;
    return out;
  }

  keepForm(form: HTMLFormElement): void {
    const values = this.formValues(form);
    this.render();
    this.restoreForm(values);
  }

  restoreForm(values: Record<string, string>): void {
    const form = this.root.querySelector<HTMLFormElement>(".dialog");
    if (!form) return;
    for (const [k, val] of Object.entries(values)) {
      const el = form.elements.namedItem(k) as HTMLInputElement | null;
      if (el && !el.disabled) el.value = val;
    }
  }
}
