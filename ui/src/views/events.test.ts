import type { AppEvent } from "../types";
import { events, SHOWN_EVENTS } from "./events";
import { byTestId, NOW, sampleEvents } from "./testdata";

describe("events view", () => {
  it("lists events with their level, how long ago, and the workspace", () => {
    const el = events(sampleEvents(), NOW);
    expect(el.getAttribute("aria-label")).toBe("Recent events");
    const items = Array.from(byTestId(el, "events").querySelectorAll("li"));
    expect(items.map((i) => i.className)).toEqual(["info", "warn"]);
    const when = items[0].querySelector<HTMLElement>(".when")!;
    expect(when.textContent).toBe("2 min ago");
    expect(when.dataset.ago).toBe(String(NOW - 120));
    expect(items[0].querySelector(".chip")!.textContent).toBe("dev");
    expect(items[0].querySelector(".what")!.textContent).toBe("New token, valid for 1 h 00 min");
    expect(items[1].querySelector(".when")!.textContent).toBe("2 h ago");
    expect(items[1].querySelector(".chip")).toBeNull();
    // A warning says so in a word (the icon is hidden from screen readers), not only in red.
    expect(items[1].querySelector('[data-testid="event-warning"]')!.textContent).toBe("⚠ Warning");
    expect(items[0].querySelector('[data-testid="event-warning"]')).toBeNull();
    // The list scrolls: the keyboard can reach it.
    expect(byTestId(el, "events").getAttribute("tabindex")).toBe("0");
  });

  it("shows only the newest events", () => {
    const many: AppEvent[] = Array.from({ length: SHOWN_EVENTS + 5 }, (_, i) => ({ at: NOW - i, level: "info", workspace: null, text: `event ${i}` }));
    const items = events(many, NOW).querySelectorAll("li");
    expect(items).toHaveLength(SHOWN_EVENTS);
    expect(items[0].textContent).toContain("event 0");
  });

  it("says when nothing happened yet", () => {
    const items = byTestId(events([], NOW), "events").querySelectorAll("li");
    expect(items).toHaveLength(1);
    expect(items[0].textContent).toBe("Nothing yet.");
  });
});
