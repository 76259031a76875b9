// The settings panel: start at login, and where the config and the secrets live. Pure: data in,
// DOM out; the toggle calls back into the controller.
import { h } from "../dom";
import type { AppView } from "../types";

/** What the settings panel asks the controller to do. */
export interface SettingsActions {
  setAutostart(on: boolean): void;
}

/** The "Settings" panel. */
export function settings(v: AppView, autostart: boolean, on: SettingsActions): HTMLElement {
  return h(
    "section",
    { class: "panel", "aria-label": "Settings" },
    h("h2", {}, "Settings"),
    h(
      "label",
      { class: "toggle" },
      h("input", {
        type: "checkbox",
        "data-testid": "autostart",
        checked: autostart,
        onchange: (e) => on.setAutostart((e.target as HTMLInputElement).checked),
      }),
      "Start Lakepass when I log in",
    ),
    // Paths can be long and have no spaces: they wrap anywhere rather than run past the card.
    h("p", { class: "small muted" }, "Config: ", h("span", { class: "mono path", "data-testid": "config-path" }, v.config_path)),
    h("p", { class: "small muted" }, "Secrets: ", h("span", { class: "path", "data-testid": "vault-path" }, v.vault || "—")),
  );
}
