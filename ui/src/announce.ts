// The page's one live region. The dashboard re-renders whole on every change and a clock rewrites
// its countdowns every second, so nothing it renders is live: a screen reader would read the page
// out over and over. What deserves saying (a workspace's state changed, an error, a finished
// sign-in, the result of an action) is said here, once, by the controller.

/** The live region's id in index.html; created on the fly where the page has none (tests). */
export const LIVE_REGION_ID = "announcer";

/** Says short texts through a polite, atomic `role="status"` region outside the re-rendered root. */
export class Announcer {
  readonly el: HTMLElement;

  constructor(doc: Document = document) {
    let el = doc.getElementById(LIVE_REGION_ID);
    if (!el) {
      el = doc.createElement("div");
      el.id = LIVE_REGION_ID;
      el.className = "visually-hidden";
      el.setAttribute("role", "status");
      el.setAttribute("aria-live", "polite");
      el.setAttribute("aria-atomic", "true");
      doc.body.append(el);
    }
    this.el = el;
  }

  /** Says `text`. Said twice in a row, it is said again: a trailing no-break space makes it new. */
  say(text: string): void {
    const t = text.trim();
    if (!t) return;
    this.el.textContent = this.el.textContent === t ? `${t}\u00a0` : t;
  }

  /** What was said last (no-break space trimmed): for tests. */
  get last(): string {
    return (this.el.textContent ?? "").replace(/\u00a0$/, "");
  }
}
