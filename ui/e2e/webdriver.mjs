// A minimal W3C WebDriver client over fetch (Node 20), for WebKitWebDriver. No dependencies.

export class Driver {
  constructor(base) {
    this.base = base;
    this.session = null;
  }

  async req(method, path, body) {
    const r = await fetch(`${this.base}${path}`, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await r.json().catch(() => ({}));
    if (!r.ok) {
      const v = json.value || {};
      throw new Error(`${method} ${path}: ${r.status} ${v.error || ""} ${v.message || ""}`.trim());
    }
    return json.value;
  }

  s(path) {
    return `/session/${this.session}${path}`;
  }

  async start(binary, args) {
    const caps = { capabilities: { alwaysMatch: { "webkitgtk:browserOptions": { binary, args } } } };
    const v = await this.req("POST", "/session", caps);
    this.session = v.sessionId;
    return v;
  }

  async quit() {
    if (this.session) await this.req("DELETE", this.s("")).catch(() => {});
    this.session = null;
  }

  async find(css) {
    const v = await this.req("POST", this.s("/element"), { using: "css selector", value: css });
    return Object.values(v)[0];
  }

  async findAll(css) {
    const v = await this.req("POST", this.s("/elements"), { using: "css selector", value: css });
    return v.map((e) => Object.values(e)[0]);
  }

  async exists(css) {
    return (await this.findAll(css)).length > 0;
  }

  async click(css) {
    // The dashboard redraws whole on every view the app pushes: an element found just before a
    // redraw is stale by the click, which then did not happen, and one the next view brings may
    // not be there yet (a view waiting on the app). Find it again, for up to 5 s, and click that.
    for (let i = 0; ; i++) {
      try {
        const id = await this.find(css);
        await this.req("POST", this.s(`/element/${id}/click`), {});
        return;
      } catch (e) {
        if (i >= 20 || !/stale element reference|no such element/.test(e.message)) throw e;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  async text(css) {
    const id = await this.find(css);
    return this.req("GET", this.s(`/element/${id}/text`));
  }

  async attr(css, name) {
    const id = await this.find(css);
    return this.req("GET", this.s(`/element/${id}/attribute/${name}`));
  }

  async type(css, value) {
    const id = await this.find(css);
    await this.req("POST", this.s(`/element/${id}/clear`), {});
    await this.req("POST", this.s(`/element/${id}/value`), { text: value });
  }

  async exec(script, args = []) {
    return this.req("POST", this.s("/execute/sync"), { script, args });
  }

  /** Runs `script` with a callback as its last argument; resolves with what it passes. */
  async execAsync(script, args = []) {
    return this.req("POST", this.s("/execute/async"), { script, args });
  }

  /** Presses keys on the focused element, as a person would (W3C actions): each entry is a key
   * (a character or a `Keys` value) pressed and released, or an array pressed together. */
  async keys(...presses) {
    const actions = [];
    for (const p of presses) {
      const chord = Array.isArray(p) ? p : [p];
      for (const k of chord) actions.push({ type: "keyDown", value: k });
      for (const k of [...chord].reverse()) actions.push({ type: "keyUp", value: k });
    }
    await this.req("POST", this.s("/actions"), { actions: [{ type: "key", id: "keyboard", actions }] });
    await this.req("DELETE", this.s("/actions"));
  }

  async screenshot() {
    return Buffer.from(await this.req("GET", this.s("/screenshot")), "base64");
  }

  /** Polls `f` until it returns a truthy value or `ms` pass. */
  async until(what, f, ms = 20000, every = 250) {
    const end = Date.now() + ms;
    let last;
    while (Date.now() < end) {
      try {
        const v = await f();
        if (v) return v;
        last = v;
      } catch (e) {
        last = e;
      }
      await new Promise((r) => setTimeout(r, every));
    }
    throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
  }
}

/** WebDriver's codes for the keys the keyboard tests press. */
export const Keys = { Tab: "\uE004", Enter: "\uE007", Escape: "\uE00C", Shift: "\uE008" };
