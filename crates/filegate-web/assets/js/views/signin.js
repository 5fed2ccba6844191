// Sign in with a token (`filegate token`, or an identity provider's) or an API key. The
// credential is tried with `GET /v1/me` before it is kept.

import { get } from "../api.js";
import { h, replace } from "../dom.js";
import { errorNotice } from "../errors.js";
import { signIn } from "../session.js";

/** Renders the form into `main`; calls `done()` once a credential was accepted. */
export function renderSignIn(main, done, { expired } = {}) {
  const messages = h("div", { class: "messages", "aria-live": "polite" });
  if (expired) replace(messages, errorNotice(expired));
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
      const me = await get("/v1/me", undefined, { token });
      const buckets = await get("/v1/buckets", undefined, { token }).catch(() => ({ items: [] }));
      signIn(token, me, buckets.items);
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
      form,
    ),
  );
  input.focus();
}
