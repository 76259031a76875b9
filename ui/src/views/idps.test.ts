import { idps, type IdpActions } from "./idps";
import { byTestId, recorder, sampleIdp } from "./testdata";

const ACTIONS: (keyof IdpActions)[] = ["add", "edit", "remove", "signIn", "signOut"];

describe("idps view", () => {
  it("lists each IdP with its issuer and sign-in state", () => {
    const { on } = recorder<IdpActions>(ACTIONS);
    const el = idps([sampleIdp(), sampleIdp({ name: "partner", issuer: "https://id.partner.example/", signed_in: false })], on);
    expect(el.getAttribute("aria-label")).toBe("Identity providers");
    expect(el.querySelector(".empty")).toBeNull();
    const corp = byTestId(el, "idp-corp");
    expect(corp.querySelector(".state")!.className).toBe("state ok");
    expect(corp.querySelector(".state")!.textContent).toBe("Signed in");
    expect(corp.querySelector(".mono")!.textContent).toBe("https://login.example.com/");
    expect(byTestId(el, "signout-corp").textContent).toBe("Sign out");
    const partner = byTestId(el, "idp-partner");
    expect(partner.querySelector(".state")!.className).toBe("state off");
    expect(partner.querySelector(".state")!.textContent).toBe("Signed out");
    expect(byTestId(el, "signin-partner").textContent).toBe("Sign in");
  });

  it("shows a sign-in waiting for the browser", () => {
    const { on } = recorder<IdpActions>(ACTIONS);
    const el = idps([sampleIdp({ signed_in: false, signing_in: true })], on);
    expect(el.querySelector(".state")!.textContent).toBe("Waiting for the browser…");
    const b = byTestId(el, "signin-corp") as HTMLButtonElement;
    expect(b.textContent).toBe("Waiting…");
    expect(b.disabled).toBe(true);
  });

  it("says what to add when there is none", () => {
    const { on } = recorder<IdpActions>(ACTIONS);
    const el = idps([], on);
    expect(el.querySelector(".empty")!.textContent).toContain("OIDC provider");
    expect(el.querySelector(".idp")).toBeNull();
  });

  it("calls back with the IdP each button is about", () => {
    const out = sampleIdp({ name: "partner", signed_in: false });
    const { on, calls } = recorder<IdpActions>(ACTIONS);
    const el = idps([sampleIdp(), out], on);
    byTestId(el, "add-idp").click();
    byTestId(el, "signout-corp").click();
    byTestId(el, "signin-partner").click();
    const [edit, remove] = Array.from(byTestId(el, "idp-partner").querySelectorAll<HTMLButtonElement>("button.link"));
    edit.click();
    remove.click();
    expect(calls).toEqual([["add"], ["signOut", "corp"], ["signIn", "partner"], ["edit", out], ["remove", out]]);
  });
});
