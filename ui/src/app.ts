// The dashboard's controller: holds the state (the app's view, events, running actions, the open
// dialog), talks to the backend, and re-renders the page whole from the views in views/ on every
// change (a handful of cards); a 1 s timer only rewrites the countdown texts.
//
// Accessibility is the controller's too, because only it sees a change happen: the re-rendered
// page is not a live region, so it says what changed through the one live region (announce.ts);
// it puts the keyboard focus back after every redraw (on the same control by its data-testid, or
// on the nearest sensible one when that control is gone, see `focusFallbacks`); and it keeps the
// add/edit dialog modal (the page behind inert, focus back on the button that opened it).
import { Announcer } from "./announce";
import { asError, type Backend } from "./api";
import { h } from "./dom";
import { ago, countdown, stateLabel } from "./format";
import type { AgentView, AppError, AppEvent, AppView, DoctorReport, ErrorKind, IdpView, TokenState, WorkspaceView } from "./types";
import { checkIdp, checkWorkspace, DEFAULT_SUBJECT_TOKEN, fieldOf } from "./validate";
import { launchKey, mcpWords, workspaces } from "./views/card";
import { dialog, formValues, restoreForm, type Dialog } from "./views/dialogs";
import { events } from "./views/events";
import { banners, header, type Notice } from "./views/header";
import { idps } from "./views/idps";
import { settings } from "./views/settings";
import { setup, type SetupState } from "./views/setup";

/** The failures a sign-in mends (the core's exit code 3, less a missing M2M secret). */
const MENDED_BY_SIGN_IN: ReadonlySet<ErrorKind> = new Set<ErrorKind>(["needs_login", "session_ended", "no_refresh_token"]);

export class Dashboard {
  view: AppView | null = null;
  events: AppEvent[] = [];
  autostart = false;
  busy = new Set<string>();
  notice: Notice | null = null;
  dialog: Dialog | null = null;
  diagnoses = new Map<string, DoctorReport>();
  timer: ReturnType<typeof setInterval> | null = null;
  /** The guided set-up, open from a first run until the user finishes or skips it. */
  setupState: SetupState | null = null;
  /** The page's live region: what a screen reader is told, once. */
  readonly announcer: Announcer;
  /** The control that opened the dialog (its data-testid): focus goes back there on close. */
  opener: string | null = null;
  /** A control to focus once it is enabled again (it was focused when its action made it busy). */
  pendingFocus: string | null = null;
  /** Where focus was parked meanwhile: still there, the pending control takes it back. */
  parkedAt: string | null = null;

  constructor(
    readonly root: HTMLElement,
    readonly backend: Backend,
    readonly now: () => number = () => Date.now() / 1000,
  ) {
    this.announcer = new Announcer(root.ownerDocument);
    // Escape closes the dialog wherever focus is, not only inside the form.
    root.ownerDocument.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.dialog) {
        e.preventDefault();
        this.dialogActions.close();
      }
    });
  }

  async start(): Promise<void> {
    this.backend.onView((v) => this.setView(v));
    this.backend.onEvents((e) => {
      this.events = e;
      this.renderEvents();
    });
    const [view, events, autostart] = await Promise.all([this.backend.getView(), this.backend.getEvents(), this.backend.getAutostart().catch(() => false)]);
    this.events = events;
    this.autostart = autostart;
    if (view.first_run) await this.openSetup();
    this.setView(view);
    this.timer = setInterval(() => this.tick(), 1000);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  setView(v: AppView): void {
    this.takeView(v);
    this.render();
  }

  /** Takes a new view, saying what changed that a person must know: a workspace that starts or
   * stops failing or needing a sign-in, a sign-in or sign-out, the active workspace, a config
   * problem or warning that appears. Never the clock: countdowns are not said. */
  takeView(v: AppView): void {
    const old = this.view;
    this.view = v;
    if (!old || old.first_run !== v.first_run) return;
    const said: string[] = [];
    for (const w of v.workspaces) {
      const before = old.workspaces.find((o) => o.name === w.name);
      if (before && health(before.state) !== health(w.state)) said.push(`${w.name}: ${stateLabel(w.state, w.expires_at, this.now())}.`);
    }
    for (const i of v.idps) {
      const before = old.idps.find((o) => o.name === i.name);
      if (before && before.signed_in !== i.signed_in) said.push(i.signed_in ? `Signed in to ${i.name}.` : `Signed out of ${i.name}.`);
    }
    if (v.active && old.active !== v.active) said.push(`${v.active} is now the active workspace.`);
    if (v.config_error && v.config_error !== old.config_error) said.push(`Lakepass is not set up yet. ${v.config_error}`);
    for (const w of v.warnings) if (!old.warnings.some((o) => o.message === w.message)) said.push(w.message);
    const text = said.join(" ");
    if (text && text !== this.announcer.last) this.announcer.say(text);
  }

  /** Runs an action, marking `key` busy and showing its error in the banner. An action for a
   * workspace names it in `ws`: when it fails for want of a sign-in, the banner offers one. */
  async act(key: string, f: () => Promise<void>, done?: string | (() => string), ws?: string): Promise<boolean> {
    this.busy.add(key);
    this.render();
    try {
      await f();
      if (done) this.flash(typeof done === "function" ? done() : done);
      return true;
    } catch (e) {
      const err = asError(e);
      const idp = MENDED_BY_SIGN_IN.has(err.kind) && ws ? this.view?.workspaces.find((w) => w.name === ws)?.idp : undefined;
      this.notice = idp
        ? { tone: "bad", text: err.message, action: { label: `Sign in to ${idp}`, run: () => this.signIn(idp) } }
        : { tone: "bad", text: err.message };
      this.announcer.say(`Error: ${err.message}`);
      return false;
    } finally {
      this.busy.delete(key);
      try {
        this.takeView(await this.backend.getView());
        this.events = await this.backend.getEvents();
      } catch {
        /* keep the last view */
      }
      this.render();
    }
  }

  /** A success message that goes away by itself. */
  flash(text: string): void {
    const n: Notice = { tone: "ok", text };
    this.notice = n;
    this.announcer.say(text);
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
    for (const el of this.root.querySelectorAll<HTMLElement>("[data-mcp-expires]")) {
      const exp = Number(el.dataset.mcpExpires);
      const state = el.dataset.state as TokenState;
      el.textContent = mcpWords({ scope: el.dataset.scope ?? "", state, expires_at: Number.isFinite(exp) ? exp : null }, now);
    }
    for (const el of this.root.querySelectorAll<HTMLElement>("[data-ago]")) {
      el.textContent = ago(Number(el.dataset.ago), now);
    }
  }

  async openSetup(): Promise<void> {
    const presets = await this.backend.idpPresets().catch(() => []);
    this.setupState = { presets, preset: presets[0]?.name ?? "", problems: {}, error: null, team: null };
  }

  /** Re-renders the page; `focus` (a data-testid) takes the focus, else it stays where it was. */
  render(focus?: string): void {
    const v = this.view;
    if (!v) return;
    const want = focus ?? this.focusedKey();
    if (this.setupState) {
      this.renderSetup(v, this.setupState, want);
      return;
    }
    // A new view from the app must not wipe what the user is typing.
    const open = this.root.querySelector<HTMLFormElement>(".dialog");
    const typed = open && this.dialog ? formValues(open) : null;
    const advanced = open?.querySelector("details")?.open ?? false;
    const now = this.now();
    const page = [
      header(v, this.busy.has("refresh"), { refresh: () => this.act("refresh", () => this.backend.refreshNow(), "Fresh tokens exchanged.") }),
      banners(v, this.notice, {
        dismiss: () => {
          this.notice = null;
          this.render();
        },
      }),
      // Landmarks: the header (banner), the messages (a region), the workspaces (main) and, beside
      // them, the IdPs, events and settings (complementary, not nested in main).
      h(
        "div",
        { class: "layout" },
        h("main", { class: "workspaces-main" }, workspaces(v, { now, busy: this.busy, diagnoses: this.diagnoses }, this.workspaceActions)),
        h(
          "aside",
          { class: "side", "aria-label": "Identity providers, events and settings" },
          idps(v.idps, this.idpActions),
          events(this.events, now),
          settings(v, this.autostart, this.settingsActions),
        ),
      ),
    ];
    // The dialog is modal: the page behind it takes no focus, no clicks, and is not read.
    if (this.dialog) for (const el of page) el.setAttribute("inert", "");
    this.root.replaceChildren(...page, this.dialog ? dialog(this.dialog, v, this.busy.has("save"), this.dialogActions) : "");
    if (typed) this.restoreForm(typed);
    const details = this.root.querySelector<HTMLDetailsElement>(".dialog details");
    if (details && advanced) details.open = true;
    this.refocus(want);
  }

  /** The data-testid of the focused control inside the page (null: focus is on the body); while
   * focus is parked for a busy control, that control's. */
  focusedKey(): string | null {
    const a = this.root.ownerDocument.activeElement;
    const key = a && a !== this.root && this.root.contains(a) ? a.getAttribute("data-testid") : null;
    if (this.pendingFocus && (key === null || key === this.parkedAt)) return this.pendingFocus;
    this.pendingFocus = null;
    return key;
  }

  /** Focuses the control `key` names after a redraw. A busy (disabled) one is waited for, focus
   * parked on its card's title meanwhile; a gone one hands over to the nearest sensible control. */
  refocus(key: string | null): void {
    if (!key) return;
    const find = (k: string) => this.root.querySelector<HTMLElement>(`[data-testid="${k}"]`);
    const usable = (el: HTMLElement | null): el is HTMLElement => !!el && !(el as HTMLButtonElement).disabled && !el.closest("[inert]");
    const el = find(key);
    if (usable(el)) {
      this.pendingFocus = this.parkedAt = null;
      el.focus();
      return;
    }
    const fallbacks = [...focusFallbacks(key), "page-title"];
    const to = fallbacks.map(find).find(usable);
    if (el) {
      // Busy: come back to it when its action ends.
      this.pendingFocus = key;
      this.parkedAt = to?.dataset.testid ?? null;
    } else this.pendingFocus = this.parkedAt = null;
    to?.focus();
  }

  renderSetup(v: AppView, s: SetupState, focused: string | null): void {
    const open = this.root.querySelector<HTMLFormElement>(".setup-form");
    const typed = open?.tagName === "FORM" ? formValues(open) : null;
    const formBefore = open?.dataset.testid;
    this.root.replaceChildren(
      header(v, this.busy.has("refresh"), { refresh: () => this.act("refresh", () => this.backend.refreshNow(), "Fresh tokens exchanged.") }),
      // With nothing set up, "no config" is not a problem to report: the set-up below is the answer.
      banners(v.first_run ? { ...v, config_error: null } : v, this.notice, {
        dismiss: () => {
          this.notice = null;
          this.render();
        },
      }),
      h("main", { class: "setup-page" }, setup(v, s, this.now(), this.busy, this.setupActions)),
    );
    const form = this.root.querySelector<HTMLFormElement>("form.setup-form");
    if (typed && form && form.dataset.testid === formBefore) restoreForm(form, typed);
    this.refocus(focused);
  }

  /** Shows a backend error at its field when the form has it, else above the buttons. */
  setupError(e: unknown, form?: HTMLFormElement): void {
    const s = this.setupState;
    if (!s) return;
    const err = asError(e);
    if (err.field && form?.elements.namedItem(err.field)) s.problems = { [err.field]: err.message };
    else if (err.field === "host" || err.field?.endsWith(".host")) s.problems = { host: err.message };
    else s.error = err.message;
    this.announcer.say(`Error: ${err.message}`);
  }

  /** Runs a set-up action that saves: problems cleared first, typed values kept on failure. */
  async setupSave(form: HTMLFormElement, f: () => Promise<void>): Promise<void> {
    const s = this.setupState;
    if (!s) return;
    s.problems = {};
    s.error = null;
    this.busy.add("save");
    this.render();
    try {
      await f();
    } catch (e) {
      this.setupError(e, form);
    } finally {
      this.busy.delete("save");
    }
    this.view = await this.backend.getView().catch(() => this.view);
    this.render();
  }

  readonly setupActions = {
    pickPreset: (name: string) => {
      if (!this.setupState) return;
      this.setupState.preset = name;
      this.setupState.problems = {};
      this.setupState.error = null;
      this.render();
    },
    saveIdp: (form: HTMLFormElement) => {
      const s = this.setupState;
      if (!s) return;
      const values = formValues(form);
      const preset = s.presets.find((p) => p.name === s.preset);
      const name = (values.name ?? "").trim();
      const fieldValues: Record<string, string> = {};
      for (const f of preset?.fields ?? []) fieldValues[f.key] = values[f.key] ?? "";
      void this.setupSave(form, async () => {
        if (!name) throw { kind: "invalid", message: "Give it a short name, e.g. corp.", field: "name" } satisfies AppError;
        await this.backend.saveIdpPreset(name, { preset: s.preset, values: fieldValues, client_id: values.client_id ?? "" });
      });
    },
    saveWorkspace: (form: HTMLFormElement) => {
      const v = this.view;
      if (!v) return;
      const values = formValues(form);
      const name = (values.name ?? "").trim();
      void this.setupSave(form, async () => {
        if (!name) throw { kind: "invalid", message: "Give it a short name, e.g. dev.", field: "name" } satisfies AppError;
        const host = await this.backend.workspaceHost(values.host ?? "");
        const idp = v.idps[0]?.name ?? "";
        await this.backend.saveWorkspace(name, { idp, host, scopes: [], token: null, client_id: null, profile: null }, false);
      });
    },
    signIn: (idp: string) => this.signIn(idp),
    tryLocally: () => void this.act("try-local", () => this.backend.tryLocally(), "Lakepass is set up on a local devstack. Sign in to try it."),
    readTeamFile: (file: File) =>
      void (async () => {
        const s = this.setupState;
        if (!s) return;
        s.error = null;
        try {
          const text = await readText(file);
          s.team = { name: file.name, text, plan: await this.backend.previewTeam(file.name, text), trusted: [] };
        } catch (e) {
          s.error = asError(e).message;
          this.announcer.say(`Error: ${s.error}`);
        }
        this.render();
      })(),
    trustHost: (host: string, trusted: boolean) => {
      const team = this.setupState?.team;
      if (!team) return;
      team.trusted = team.trusted.filter((x) => x !== host).concat(trusted ? [host] : []);
      this.render();
    },
    importTeam: () => {
      const team = this.setupState?.team;
      if (!team) return;
      const replace = team.plan.entries.some((e) => e.change === "conflict");
      void this.act(
        "import",
        async () => {
          await this.backend.importTeam(team.name, team.text, replace, team.trusted);
          if (this.setupState) this.setupState.team = null;
        },
        `Imported ${team.name}.`,
      );
    },
    cancelTeam: () => {
      if (this.setupState) this.setupState.team = null;
      this.render();
    },
    finish: () => {
      this.setupState = null;
      this.render();
    },
  };

  renderEvents(): void {
    const old = this.root.querySelector('[aria-label="Recent events"]');
    if (!old) return;
    const fresh = events(this.events, this.now());
    if (old.closest("[inert]")) fresh.setAttribute("inert", "");
    old.replaceWith(fresh);
  }

  readonly workspaceActions = {
    add: () => this.openDialog({ kind: "workspace", editing: null, problems: {}, error: null }, "add-workspace"),
    activate: (ws: string) => void this.act(`active-${ws}`, () => this.backend.setActive(ws)),
    edit: (w: WorkspaceView) => this.openDialog({ kind: "workspace", editing: w, problems: {}, error: null }, `edit-${w.name}`),
    remove: (w: WorkspaceView) => {
      if (confirm(`Remove workspace ${w.name} from Lakepass? Its token stays valid until it expires.`))
        void this.act(`rm-${w.name}`, () => this.backend.removeWorkspace(w.name), `Removed ${w.name}.`);
    },
    diagnose: (ws: string) =>
      void this.act(`doctor-${ws}`, async () => {
        this.diagnoses.set(ws, await this.backend.diagnose(ws));
      }),
    signIn: (idp: string) => this.signIn(idp),
    launch: (a: AgentView, ws: string) =>
      void this.act(
        launchKey(a.name, ws),
        () => this.backend.launch(a.name, ws),
        a.name === "terminal" ? `A terminal for ${ws} is opening.` : `${a.title} is starting for ${ws}.`,
        ws,
      ),
  };

  readonly idpActions = {
    add: () => this.openDialog({ kind: "idp", editing: null, problems: {}, error: null }, "add-idp"),
    edit: (i: IdpView) => this.openDialog({ kind: "idp", editing: i, problems: {}, error: null }, `edit-idp-${i.name}`),
    remove: (i: IdpView) => {
      if (confirm(`Remove identity provider ${i.name}?`)) void this.act(`rm-idp-${i.name}`, () => this.backend.removeIdp(i.name), `Removed ${i.name}.`);
    },
    signIn: (idp: string) => this.signIn(idp),
    signOut: (idp: string) => void this.act(`signout-${idp}`, () => this.backend.signOut(idp), `Signed out of ${idp}.`),
  };

  readonly settingsActions = {
    setAutostart: (on: boolean) =>
      void this.act(
        "autostart",
        async () => {
          await this.backend.setAutostart(on);
          this.autostart = on;
        },
        on ? "Lakepass will start when you log in." : "Lakepass will no longer start at login.",
      ),
  };

  readonly dialogActions = {
    close: () => {
      this.dialog = null;
      this.render(this.opener ?? undefined);
    },
    submit: (form: HTMLFormElement) => void this.submit(form),
  };

  signIn(idp: string): void {
    // The notice names who signed in, so a user who sees someone else there knows at once.
    let who = "";
    const signIn = async (): Promise<void> => {
      who = await this.backend.signIn(idp);
    };
    void this.act(`signin-${idp}`, signIn, () => `Signed in to ${idp} as ${who}.`);
  }

  /** Opens the add/edit dialog; `opener` (a data-testid) gets the focus back when it closes. */
  openDialog(d: Dialog, opener: string): void {
    this.dialog = d;
    this.opener = opener;
    this.render();
    this.root.querySelector<HTMLInputElement>(".dialog input:not([disabled])")?.focus();
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
        {
          name,
          idp: val("idp"),
          host: val("host"),
          scopes: val("scopes"),
          token: val("token") || DEFAULT_SUBJECT_TOKEN,
          client_id: val("client_id"),
          profile: val("profile"),
        },
        { names: v.workspaces.map((w) => w.name), idps: v.idps.map((i) => i.name), editing: !!d.editing },
      );
      d.problems = r.problems;
      if (r.form) {
        const f = r.form;
        save = () => this.backend.saveWorkspace(name.trim(), f, !!d.editing);
      }
    } else {
      const r = checkIdp(
        { name, issuer: val("issuer"), client_id: val("client_id"), scopes: val("scopes"), redirect_port: val("redirect_port") },
        { names: v.idps.map((i) => i.name), editing: !!d.editing },
      );
      d.problems = r.problems;
      if (r.form) {
        const f = r.form;
        save = () => this.backend.saveIdp(name.trim(), f, !!d.editing);
      }
    }
    const values = formValues(form);
    if (!save) {
      this.render();
      this.restoreForm(values);
      this.focusProblem();
      return;
    }
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
      this.announcer.say(`Error: ${err.message}`);
    } finally {
      this.busy.delete("save");
    }
    const v2 = await this.backend.getView().catch(() => null);
    if (v2) this.takeView(v2);
    this.render(this.dialog ? undefined : (this.opener ?? undefined));
    if (this.dialog) {
      this.restoreForm(values);
      this.focusProblem();
    }
  }

  /** After a check found problems: focus the first field named, and say how many there are. */
  focusProblem(): void {
    const d = this.dialog;
    if (!d) return;
    const first = this.root.querySelector<HTMLElement>('.dialog [aria-invalid="true"]');
    const n = Object.keys(d.problems).length;
    if (n) this.announcer.say(`${n === 1 ? "One field needs" : `${n} fields need`} a change: ${Object.values(d.problems)[0]}`);
    first?.focus();
  }

  /** Puts typed values back into the open dialog after a re-render. */
  restoreForm(values: Record<string, string>): void {
    const form = this.root.querySelector<HTMLFormElement>(".dialog");
    if (form) restoreForm(form, values);
  }
}

/** A token state's health: what a screen reader is told about when it changes (fresh, renewing
 * and refreshing are all "working"; the clock's own changes are never said). */
function health(s: TokenState): "working" | "failing" | "signed-out" {
  return s === "failed" ? "failing" : s === "needs_login" ? "signed-out" : "working";
}

/** Where focus goes when the control it was on is gone after a redraw, nearest first: the card's
 * title for a workspace's controls, the "add" button after a removal, "Sign out" after "Sign in".
 * The page title (`page-title`) is the last resort. */
export function focusFallbacks(key: string): string[] {
  const m = (re: RegExp) => key.match(re)?.[1];
  let x: string | undefined;
  if ((x = m(/^(?:remove|edit)-idp-(.+)$/))) return [`edit-idp-${x}`, "add-idp"];
  if ((x = m(/^signin-card-(.+)$/))) return [`launch-${x}`, `title-${x}`];
  if ((x = m(/^signin-(.+)$/))) return [`signout-${x}`];
  if ((x = m(/^signout-(.+)$/))) return [`signin-${x}`];
  if ((x = m(/^remove-(.+)$/))) return [`edit-${x}`, "add-workspace"];
  if ((x = m(/^(?:activate|diagnose|edit|launch|terminal|details)-(.+)$/))) return [`title-${x}`, "add-workspace"];
  if (key.startsWith("notice-")) return ["refresh-now"];
  if (key.startsWith("setup-")) return ["setup-title"];
  return [];
}

/** A chosen file's text (FileReader: what every webview has). */
function readText(file: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result ?? ""));
    r.onerror = () => reject(r.error ?? new Error("the file could not be read"));
    r.readAsText(file);
  });
}
