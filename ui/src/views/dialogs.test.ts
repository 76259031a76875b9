import { dialog, field, formValues, restoreForm, tabbable, type Dialog, type DialogActions } from "./dialogs";
import { byTestId, recorder, sampleIdp, sampleView, sampleWorkspace } from "./testdata";

const ACTIONS: (keyof DialogActions)[] = ["close", "submit"];
const value = (root: Element, name: string) => (byTestId(root, `field-${name}`) as HTMLInputElement).value;
/** The accessible name of the dialog a form is in: its title, by aria-labelledby. */
const dialogName = (form: Element) => {
  const box = form.closest('[role="dialog"]')!;
  return box.querySelector(`#${box.getAttribute("aria-labelledby")}`)!.textContent;
};

function open(d: Dialog, saving = false) {
  const { on, calls } = recorder<DialogActions>(ACTIONS);
  const el = dialog(d, sampleView(), saving, on);
  document.body.replaceChildren(el);
  return { el, calls, form: el.querySelector("form")! };
}

describe("dialogs view", () => {
  it("adds a workspace: empty name, the first IdP, all-apis, id_token", () => {
    const { el, form } = open({ kind: "workspace", editing: null, problems: {}, error: null });
    expect(el.className).toBe("overlay");
    expect(form.dataset.testid).toBe("dialog-workspace");
    // A modal dialog, named by its title (the form is not a second landmark).
    expect(dialogName(form)).toBe("Add a workspace");
    expect(form.closest('[role="dialog"]')!.getAttribute("aria-modal")).toBe("true");
    expect(form.hasAttribute("aria-label")).toBe(false);
    expect(form.querySelector("h2")!.textContent).toBe("Add a workspace");
    const name = byTestId(form, "field-name") as HTMLInputElement;
    expect(name.value).toBe("");
    expect(name.disabled).toBe(false);
    expect(name.placeholder).toBe("dev");
    expect(value(form, "idp")).toBe("corp");
    expect(value(form, "scopes")).toBe("all-apis");
    expect(value(form, "token")).toBe("id_token");
    expect(value(form, "client_id")).toBe("");
    expect(form.querySelector("details.advanced")).not.toBeNull();
    expect(form.querySelector('[data-testid="dialog-error"]')).toBeNull();
    expect(byTestId(form, "dialog-save").textContent).toBe("Save");
  });

  it("edits a workspace: its values, the name fixed", () => {
    const w = sampleWorkspace({ scopes: ["sql", "serving"], token: "access_token", client_id: "sp-1" });
    const { form } = open({ kind: "workspace", editing: w, problems: {}, error: null });
    expect(dialogName(form)).toBe("Edit workspace dev");
    expect((byTestId(form, "field-name") as HTMLInputElement).disabled).toBe(true);
    expect(value(form, "name")).toBe("dev");
    expect(value(form, "host")).toBe("https://dev.example.com");
    expect(value(form, "scopes")).toBe("sql serving");
    expect(value(form, "profile")).toBe("dev-profile");
    expect(value(form, "token")).toBe("access_token");
    expect(value(form, "client_id")).toBe("sp-1");
  });

  it("adds and edits an identity provider", () => {
    const add = open({ kind: "idp", editing: null, problems: {}, error: null }).form;
    expect(add.dataset.testid).toBe("dialog-idp");
    expect(dialogName(add)).toBe("Add an identity provider");
    expect(value(add, "scopes")).toBe("openid profile email offline_access");
    expect(value(add, "redirect_port")).toBe("");

    const edit = open({ kind: "idp", editing: sampleIdp({ redirect_port: 8400 }), problems: {}, error: null }).form;
    expect(dialogName(edit)).toBe("Edit identity provider corp");
    expect((byTestId(edit, "field-name") as HTMLInputElement).disabled).toBe(true);
    expect(value(edit, "issuer")).toBe("https://login.example.com/");
    expect(value(edit, "client_id")).toBe("lp");
    expect(value(edit, "redirect_port")).toBe("8400");
    expect(value(open({ kind: "idp", editing: sampleIdp(), problems: {}, error: null }).form, "redirect_port")).toBe("");
  });

  it("shows problems on their fields and the backend's error on top", () => {
    const { form } = open({ kind: "workspace", editing: null, problems: { host: "Use https://." }, error: "disk full" });
    expect(byTestId(form, "error-host").textContent).toBe("Use https://.");
    expect(byTestId(form, "field-host").getAttribute("aria-invalid")).toBe("true");
    expect(byTestId(form, "field-name").hasAttribute("aria-invalid")).toBe(false);
    expect(byTestId(form, "dialog-error").textContent).toBe("disk full");
  });

  it("marks a save in progress", () => {
    const save = byTestId(open({ kind: "idp", editing: null, problems: {}, error: null }, true).form, "dialog-save") as HTMLButtonElement;
    expect(save.textContent).toBe("Saving…");
    expect(save.disabled).toBe(true);
  });

  it("submits the form and closes on Cancel, Escape and a click outside it", () => {
    const { el, form, calls } = open({ kind: "workspace", editing: null, problems: {}, error: null });
    const submit = new Event("submit", { cancelable: true });
    form.dispatchEvent(submit);
    expect(submit.defaultPrevented).toBe(true);
    expect(calls).toEqual([["submit", form]]);
    calls.length = 0;
    form.click();
    expect(calls).toEqual([]);
    Array.from(form.querySelectorAll("button"))
      .find((b) => b.textContent === "Cancel")!
      .click();
    el.click();
    el.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape" }));
    el.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter" }));
    expect(calls).toEqual([["close"], ["close"], ["close"]]);
  });

  it("keeps Tab inside the dialog: past the last control to the first, and back", () => {
    const { el, form } = open({ kind: "workspace", editing: null, problems: {}, error: null });
    const box = el.querySelector<HTMLElement>('[role="dialog"]')!;
    const all = tabbable(box);
    // Name, URL, IdP, scopes, profile, the Advanced summary (its fields hidden while closed), Cancel, Save.
    // Each has a data-testid: the controller puts focus back on it by that after a redraw.
    expect(all.map((e) => e.dataset.testid)).toEqual([
      "field-name",
      "field-host",
      "field-idp",
      "field-scopes",
      "field-profile",
      "dialog-advanced",
      "dialog-cancel",
      "dialog-save",
    ]);
    const tab = (shiftKey = false) => {
      const e = new KeyboardEvent("keydown", { key: "Tab", shiftKey, bubbles: true, cancelable: true });
      document.activeElement!.dispatchEvent(e);
      return e.defaultPrevented;
    };
    byTestId(form, "dialog-save").focus();
    expect(tab()).toBe(true);
    expect(document.activeElement).toBe(byTestId(form, "field-name"));
    expect(tab(true)).toBe(true);
    expect(document.activeElement).toBe(byTestId(form, "dialog-save"));
    // In the middle, Tab is the browser's.
    byTestId(form, "field-host").focus();
    expect(tab()).toBe(false);
    form.querySelector("details")!.open = true;
    expect(tabbable(box).map((e) => e.dataset.testid)).toContain("field-client_id");
  });
});

describe("form helpers", () => {
  it("field shows the help text unless there is a problem", () => {
    const help = field("x", "Label", document.createElement("input"), {}, "Some help");
    expect(help.querySelector(".help")!.textContent).toBe("Some help");
    expect(field("x", "Label", document.createElement("input"), {}).querySelector(".help, .error")).toBeNull();
  });

  it("formValues and restoreForm carry typed values over a re-render, not into fixed fields", () => {
    const w = sampleWorkspace();
    const first = open({ kind: "workspace", editing: w, problems: {}, error: null }).form;
    (byTestId(first, "field-host") as HTMLInputElement).value = "https://typed.example.com";
    const typed = formValues(first);
    expect(typed).toMatchObject({ name: "dev", host: "https://typed.example.com", idp: "corp", token: "id_token" });
    const again = open({ kind: "workspace", editing: w, problems: {}, error: null }).form;
    restoreForm(again, { ...typed, name: "changed" });
    expect(value(again, "host")).toBe("https://typed.example.com");
    expect(value(again, "name")).toBe("dev");
  });
});
