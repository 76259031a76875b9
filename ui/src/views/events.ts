// The recent events panel: the newest 30 of what the app reported, with how long ago. Pure: data
// in, DOM out. The `data-ago` times are rewritten by the controller's 1 s tick. A warning says so
// in a word and an icon, not only in red.
import { h } from "../dom";
import { ago } from "../format";
import type { AppEvent } from "../types";

/** How many events the panel shows. */
export const SHOWN_EVENTS = 30;

/** The "Recent events" panel. */
export function events(list: readonly AppEvent[], now: number): HTMLElement {
  return h(
    "section",
    { class: "panel", "aria-label": "Recent events" },
    h("h2", {}, "Recent events"),
    h(
      "ol",
      // It scrolls (30 events, a fixed height): it takes focus so the keyboard can scroll it too.
      { class: "events", "data-testid": "events", tabindex: "0", "aria-label": "Recent events, newest first" },
      ...(list.length
        ? list
            .slice(0, SHOWN_EVENTS)
            .map((e) =>
              h(
                "li",
                { class: e.level },
                h("span", { class: "when muted", "data-ago": e.at, title: new Date(e.at * 1000).toLocaleString() }, ago(e.at, now)),
                h(
                  "span",
                  { class: "body" },
                  e.level === "warn"
                    ? h("span", { class: "level-warn", "data-testid": "event-warning" }, h("span", { "aria-hidden": "true" }, "⚠ "), "Warning")
                    : null,
                  e.workspace ? h("span", { class: "chip" }, e.workspace) : null,
                  h("span", { class: "what", title: e.text }, e.text),
                ),
              ),
            )
        : [h("li", { class: "muted" }, "Nothing yet.")]),
    ),
  );
}
