// Sign in with a token (`filegate token`, or an identity provider's) or an API key, and,
// when the server names an identity provider, with it (`oidc.js`). The credential is tried
// with `GET /v1/me` before it is kept.

import { get } from "../api.js";
import { h, replace } from "../dom.js";
import { errorNotice } from "../errors.js";
import { providerSignIn, startSignIn } from "../oidc.js";
import { signIn } from "../session.js";

/** Tries `token`; once `GET /v1/me` accepts it, keeps it with who it is and the buckets. */
export async function acceptToken(token) {
  const me = await get("/v1/me", undefined, { token });
  const buckets = await get("/v1/buckets", undefined, { token }).catch(() => ({ items: [] }));
  signIn(token, me, buckets.items);
}

/** Renders the form into `main`; calls `done()` once a credential was accepted. */
export function renderSignIn(main, done, { expired } = {}) {
  const messages = h("div", { class: "messages", "aria-live": "polite" });
  if (expired) replace(messages, errorNotice(expired));
  const provider = h("div", { class: "provider" });
  const input = h("input", {
    id: "credential",
    name: "credential",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    "aria-describedby": "credential-hint",
  });
  const button = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form",
    { onsubmit: (event) => submit(event) },
    h("label", { for: "credential" }, "Token or API key"),
    input,
    h(
      "p",
      { class: "hint", id: "credential-hint" },
      "Paste the token your administrator gave you, or an API key (fgk_…). It stays in this tab only, and is forgotten when you close it.",
    ),
    button,
  );

  async function submit(event) {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    button.disabled = true;
    button.textContent = "Signing in…";
    messages.replaceChildren();
    try {
      await acceptToken(token);
      done();
    } catch (error) {
      replace(messages, errorNotice(error));
      button.disabled = false;
      button.textContent = "Sign in";
      input.select();
      input.focus();
    }
  }

  replace(
    main,
    h(
      "section",
      { class: "signin", "aria-labelledby": "signin-title" },
      h("h1", { id: "signin-title" }, "Sign in to filegate"),
      messages,
      provider,
      form,
    ),
  );
  input.focus();

  // The provider's button appears when the server names one (the form works meanwhile).
  providerSignIn().then((oidc) => {
    if (!oidc || !provider.isConnected) return;
    const go = h("button", { type: "button", class: "primary", id: "sign-in-provider" }, `Sign in with ${oidc.name}`);
    go.addEventListener("click", async () => {
      go.disabled = true;
      try {
        await startSignIn(oidc, location.pathname + location.search);
      } catch (error) {
        replace(messages, errorNotice(error));
        go.disabled = false;
      }
    });
    replace(provider, go, h("p", { class: "or" }, "or"));
  });
}
