// The identity providers panel: each IdP's sign-in state and its buttons. Pure: data in, DOM
// out; the buttons call back into the controller.
import { h } from "../dom";
import type { IdpView } from "../types";

/** What the IdP panel's buttons ask the controller to do. */
export interface IdpActions {
  add(): void;
  edit(idp: IdpView): void;
  remove(idp: IdpView): void;
  signIn(idp: string): void;
  signOut(idp: string): void;
}

/** The "Identity providers" panel. */
export function idps(list: readonly IdpView[], on: IdpActions): HTMLElement {
  return h(
    "section",
    { class: "panel", "aria-label": "Identity providers" },
    h(
      "div",
      { class: "section-head" },
      h("h2", {}, "Identity providers"),
      h("button", { class: "ghost", "data-testid": "add-idp", "aria-label": "Add identity provider", onclick: () => on.add() }, "+ Add"),
    ),
    list.length === 0 ? h("p", { class: "empty" }, "None yet: add the OIDC provider your company signs in with (Entra ID, Okta, Auth0, Keycloak…).") : null,
    ...list.map((i) => idp(i, on)),
  );
}

/** One IdP's row. */
export function idp(i: IdpView, on: IdpActions): HTMLElement {
  return h(
    "div",
    { class: "idp", "data-testid": `idp-${i.name}` },
    h(
      "div",
      { class: "idp-main" },
      h("strong", {}, i.name),
      h(
        "span",
        { class: `state ${i.signed_in ? "ok" : "off"}` },
        h("span", { class: "dot", "aria-hidden": "true" }),
        i.signing_in ? "Waiting for the browser…" : i.signed_in ? "Signed in" : "Signed out",
      ),
      h("p", { class: "mono small muted" }, i.issuer),
    ),
    h(
      "div",
      { class: "actions" },
      i.signed_in
        ? h("button", { "data-testid": `signout-${i.name}`, "aria-label": `Sign out of ${i.name}`, onclick: () => on.signOut(i.name) }, "Sign out")
        : h(
            "button",
            {
              class: "primary",
              "data-testid": `signin-${i.name}`,
              "aria-label": i.signing_in ? `Waiting for the browser to sign in to ${i.name}` : `Sign in to ${i.name}`,
              disabled: i.signing_in,
              onclick: () => on.signIn(i.name),
            },
            i.signing_in ? "Waiting…" : "Sign in",
          ),
      h("button", { class: "link", "data-testid": `edit-idp-${i.name}`, "aria-label": `Edit ${i.name}`, onclick: () => on.edit(i) }, "Edit"),
      h("button", { class: "link danger", "data-testid": `remove-idp-${i.name}`, "aria-label": `Remove ${i.name}`, onclick: () => on.remove(i) }, "Remove"),
    ),
  );
}
