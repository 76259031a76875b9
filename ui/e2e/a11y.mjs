// Accessibility and layout checks shared by the WebDriver suites, run inside the real webview:
// axe-core (the npm devDependency, injected into the page), light and dark themes forced, the
// layout of every card at a given window size, and where the keyboard focus is.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
export const AXE_VERSION = JSON.parse(readFileSync(require.resolve("axe-core/package.json"), "utf8")).version;

/** The data-testid of the focused element (else its tag name, e.g. BODY). */
export function focused(d) {
  return d.exec("const a = document.activeElement; return a ? a.getAttribute('data-testid') || a.tagName : null");
}

/**
 * Forces the light or dark theme. The dashboard follows `prefers-color-scheme`, which
 * WebKitWebDriver cannot emulate: the page's own `@media (prefers-color-scheme: dark)` rules are
 * switched on ("all") or off ("not all"), so the colours checked are the stylesheet's, unchanged.
 * Returns the page background then in force.
 */
export async function forceTheme(d, theme) {
  const [rules, bg] = await d.exec(
    `const dark = arguments[0] === "dark";
    window.__lpDarkRules ??= [...document.styleSheets]
      .flatMap((s) => {
        try {
          return [...s.cssRules];
        } catch {
          return []; // another origin's sheet: not the dashboard's
        }
      })
      .filter((r) => r.media && /prefers-color-scheme:\\s*dark/.test(r.media.mediaText));
    for (const r of window.__lpDarkRules) r.media.mediaText = dark ? "all" : "not all";
    document.documentElement.style.colorScheme = dark ? "dark" : "light";
    return [window.__lpDarkRules.length, getComputedStyle(document.documentElement).getPropertyValue("--bg").trim()];`,
    [theme],
  );
  if (!rules) throw new Error("no prefers-color-scheme: dark rules found in the page's stylesheets");
  const want = theme === "dark" ? "#0f1115" : "#f6f7f9";
  if (bg.toLowerCase() !== want) throw new Error(`${theme} theme not in force: --bg is ${bg}, want ${want}`);
  return bg;
}

/** Runs axe-core over the whole page; prints and returns its violations (WCAG 2 A/AA and best practices, axe's defaults). */
export async function axe(d, page) {
  if ((await d.exec("return typeof window.axe")) !== "object") {
    await d.exec(`${AXE_SOURCE}\nreturn typeof window.axe;`);
    if ((await d.exec("return typeof window.axe")) !== "object") throw new Error("axe-core did not load in the page");
  }
  const raw = await d.execAsync(
    `const done = arguments[arguments.length - 1];
    axe.run(document, { resultTypes: ["violations"] })
      .then((r) => done(JSON.stringify({ passes: r.passes.length, violations: r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.map((n) => n.target.join(" ") + ": " + (n.failureSummary || "").replace(/\\s+/g, " ")) })) })))
      .catch((e) => done(JSON.stringify({ error: String(e) })));`,
  );
  const r = JSON.parse(raw);
  if (r.error) throw new Error(`axe-core failed: ${r.error}`);
  console.log(`     axe-core ${AXE_VERSION}: ${page}: ${r.violations.length} violations (${r.passes} rules passed)`);
  for (const v of r.violations) {
    console.log(`       ${v.impact} ${v.id}: ${v.help}`);
    for (const n of v.nodes.slice(0, 6)) console.log(`         ${n}`);
  }
  return r.violations;
}

/** Runs axe in the light and the dark theme; throws unless both are clean. Leaves the light theme on. */
export async function axeBothThemes(d, page) {
  const found = [];
  for (const theme of ["light", "dark"]) {
    await forceTheme(d, theme);
    for (const v of await axe(d, `${page}, ${theme}`)) found.push(`${theme}: ${v.id} (${v.nodes.length})`);
  }
  await forceTheme(d, "light");
  if (found.length) throw new Error(`axe-core violations on ${page}: ${found.join(", ")}`);
}

/** Resizes the window to `width`×`height` and waits until the page has that width. */
export async function resize(d, width, height) {
  await d.req("POST", d.s("/window/rect"), { width, height });
  return d.until(`a ${width}×${height} window`, async () => {
    const [w] = await d.exec("return [window.innerWidth, window.innerHeight]");
    return Math.abs(w - width) <= 16 ? w : false;
  });
}

/**
 * What does not fit: the page scrolling sideways, a card (workspace card, side panel, banner,
 * header) past the window, an element wider than its card or sticking out of it, or anything
 * inside a card that scrolls sideways. Hidden elements (closed <details>) are not counted.
 */
export function misfits(d) {
  return d.exec(`
    const W = document.documentElement.clientWidth;
    const out = [];
    if (document.documentElement.scrollWidth > W) out.push("the page scrolls sideways: " + document.documentElement.scrollWidth + " > " + W);
    const name = (e) => e.dataset.testid || e.getAttribute("aria-label") || (e.tagName.toLowerCase() + (e.className && typeof e.className === "string" ? "." + e.className.trim().split(/\\s+/).join(".") : ""));
    const cards = [...document.querySelectorAll("header.top, .banner, article.card, .panel, .section-head, .setup-main")];
    for (const c of cards) {
      if (!c.getClientRects().length) continue;
      const cr = c.getBoundingClientRect();
      if (cr.left < -1 || cr.right > W + 1) out.push(name(c) + " runs past the window (" + Math.round(cr.left) + "–" + Math.round(cr.right) + " of " + W + ")");
      if (c.scrollWidth > c.clientWidth + 1) out.push(name(c) + " is wider inside than outside (" + c.scrollWidth + " > " + c.clientWidth + ")");
      for (const e of c.querySelectorAll("*")) {
        if (!e.getClientRects().length || e.closest(".visually-hidden")) continue;
        const r = e.getBoundingClientRect();
        if (r.width === 0) continue;
        if (r.width > cr.width + 1 || r.left < cr.left - 1 || r.right > cr.right + 1)
          out.push(name(e) + " in " + name(c) + " at " + Math.round(r.left) + "–" + Math.round(r.right) + ", its card " + Math.round(cr.left) + "–" + Math.round(cr.right));
        else if (!e.matches("input, select, textarea") && e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== "visible" && e.clientWidth > 0)
          out.push(name(e) + " in " + name(c) + " scrolls sideways (" + e.scrollWidth + " > " + e.clientWidth + ")");
      }
    }
    return [cards.length, out];
  `);
}

/**
 * Roughly what a screen reader reads, in order, browsing the page line by line: landmarks,
 * headings, controls with their names and states, and text. A printout for people (the CI log),
 * not a check: axe-core does the checking.
 */
export function readingOrder(d) {
  return d.exec(`
    const out = [];
    const roleOf = (e) => {
      const r = e.getAttribute("role");
      if (r) return r;
      switch (e.tagName) {
        case "HEADER": return e.closest("main, article, section, aside") ? null : "banner";
        case "MAIN": return "main";
        case "ASIDE": return "complementary";
        case "SECTION": return e.hasAttribute("aria-label") || e.hasAttribute("aria-labelledby") ? "region" : null;
        case "ARTICLE": return "article";
        case "BUTTON": return "button";
        case "SUMMARY": return "button";
        case "SELECT": return "combo box";
        case "INPUT": return e.type === "checkbox" ? "check box" : "text field";
        case "H1": case "H2": case "H3": return "heading level " + e.tagName[1];
        case "UL": case "OL": return "list";
        default: return null;
      }
    };
    const nameOf = (e) => {
      if (e.hasAttribute("aria-label")) return e.getAttribute("aria-label");
      if (e.hasAttribute("aria-labelledby")) return e.getAttribute("aria-labelledby").split(/\\s+/).map((id) => document.getElementById(id)?.textContent ?? "").join(" ");
      if (e.labels && e.labels[0]) return e.labels[0].querySelector(".label")?.textContent ?? e.labels[0].textContent;
      return null;
    };
    const hidden = (e) => e.getAttribute("aria-hidden") === "true" || e.hasAttribute("inert") || (e.getClientRects().length === 0 && !e.classList.contains("visually-hidden") && e.tagName !== "DETAILS");
    const walk = (node, depth) => {
      for (const c of node.childNodes) {
        if (c.nodeType === 3) {
          const t = c.textContent.replace(/\\s+/g, " ").trim();
          if (t) out.push("  ".repeat(depth) + t);
          continue;
        }
        if (c.nodeType !== 1 || hidden(c) || c.tagName === "SCRIPT" || c.tagName === "STYLE") continue;
        const role = roleOf(c);
        const leaf = ["button", "combo box", "text field", "check box"].includes(role) || role?.startsWith("heading");
        if (leaf) {
          const name = (nameOf(c) ?? c.textContent).replace(/\\s+/g, " ").trim();
          const states = [c.disabled ? "dimmed" : "", c.getAttribute("aria-current") ? "current " + c.getAttribute("aria-current") : "", c.checked ? "checked" : c.type === "checkbox" ? "not checked" : ""].filter(Boolean);
          out.push("  ".repeat(depth) + name + ", " + role + (states.length ? ", " + states.join(", ") : "") + (c.value && role === "text field" ? ": " + c.value : ""));
          continue;
        }
        if (role && role !== "list") {
          const name = nameOf(c);
          out.push("  ".repeat(depth) + (name ? name + " " : "") + role + (c.getAttribute("aria-modal") === "true" ? " (modal)" : "") + (c.getAttribute("aria-current") ? ", current " + c.getAttribute("aria-current") : ""));
          walk(c, depth + 1);
        } else walk(c, depth);
      }
    };
    walk(document.body, 0);
    return out.join("\\n");
  `);
}
