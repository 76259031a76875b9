// The top of the page: the brand with the "Refresh now" button, and the banners under it (a
// config problem, the file-vault warning, the last action's notice). Pure: data in, DOM out.
import { h } from "../dom";
import type { AppView, ErrorKind } from "../types";

/** A message about the last action: `ok` goes away by itself, `bad` stays until dismissed. A
 * failure that one action mends (a launch that needs a sign-in) carries that action. */
export interface Notice {
  tone: "ok" | "bad";
  text: string;
  action?: { label: string; run(): void };
}

/** The page header; `refreshing` while a refresh runs. */
export function header(v: AppView, refreshing: boolean, on: { refresh(): void }): HTMLElement {
  const anySignedIn = v.idps.some((i) => i.signed_in);
  return h(
    "header",
    { class: "top" },
    h(
      "div",
      { class: "brand" },
      h("span", { class: "logo", "aria-hidden": "true" }),
      // The page title takes focus (by script only) when the control focus was on is gone.
      h(
        "div",
        {},
        h("h1", { "data-testid": "page-title", tabindex: "-1" }, "Lakepass"),
        h("p", { class: "muted" }, "Databricks tokens from your company sign-in, kept fresh"),
      ),
    ),
    h(
      "button",
      { class: "primary", "data-testid": "refresh-now", disabled: !anySignedIn || refreshing, onclick: () => on.refresh() },
      refreshing ? "Refreshing…" : "Refresh now",
    ),
  );
}

/** The lead sentences of process-wide warnings, by kind; a kind renamed in Rust fails `tsc` here. */
const HINTS: Partial<Record<ErrorKind, string>> = {
  live_service: "The live token service is down, and the -live profiles were removed until it is back.",
};

/** The lead sentence of a process-wide warning, by its kind. */
function hintOf(kind: ErrorKind): string {
  return HINTS[kind] ?? "Lakepass has a problem.";
}

/** The banners: a config problem, process-wide warnings, the file-vault warning, and the notice.
 * None is a live region: the page re-renders on every change, and a re-rendered alert would be
 * read out again each time. The controller says each one once, when it appears (announce.ts). */
export function banners(v: AppView, notice: Notice | null, on: { dismiss(): void }): HTMLElement {
  // A named region (a landmark) while it shows something, so that is inside one; not live (see
  // above). Empty, it has no name: no empty "Messages" landmark to land on.
  const box = h("section", { class: "banners" });
  if (v.config_error)
    box.append(h("div", { class: "banner bad", "data-testid": "config-error" }, h("strong", {}, "Lakepass is not set up yet. "), v.config_error));
  for (const w of v.warnings) box.append(h("div", { class: "banner bad", "data-testid": "warning" }, h("strong", {}, `${hintOf(w.kind)} `), w.message));
  if (v.vault_fallback)
    box.append(
      h(
        "div",
        { class: "banner warn" },
        h("strong", {}, "Secrets are in a plain file. "),
        `The OS keyring is unavailable (${v.vault_fallback}); tokens are kept in ${v.vault}, protected only by its file permissions.`,
      ),
    );
  if (notice)
    box.append(
      h(
        "div",
        { class: `banner ${notice.tone}`, "data-testid": "notice" },
        notice.tone === "bad" ? h("strong", {}, "Error: ") : null,
        notice.text,
        notice.action ? h("button", { "data-testid": "notice-action", onclick: notice.action.run }, notice.action.label) : null,
        h("button", { class: "link", "data-testid": "notice-dismiss", "aria-label": "Dismiss", onclick: () => on.dismiss() }, "×"),
      ),
    );
  if (box.children.length) box.setAttribute("aria-label", "Messages");
  return box;
}
