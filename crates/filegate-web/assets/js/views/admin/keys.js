// Admin, API keys (`/v1/admin/api-keys`): the keys with their roles, a new key (its secret
// shown once), revoke.

import { api, post, route } from "../../api.js";
import { h, replace } from "../../dom.js";
import { showError, showMessage } from "../../errors.js";
import { time } from "../../format.js";
import { confirmDialog } from "../dialogs.js";
import { listLoader, onSubmit, shownOnce } from "./parts.js";

const ROLES = [
  ["reader", "Reader: sees and downloads files"],
  ["writer", "Writer: also uploads, changes, shares and deletes"],
  ["exchange", "Exchange: uploads encrypted files, sees only its own"],
  ["admin", "Admin: also manages buckets, keys and webhooks"],
];

export function renderKeys(main, _route, { signal }) {
  const list = h("div", {});
  const secret = h("div", { "aria-live": "polite" });
  const columns = [
    ["Name", (k) => k.name],
    ["Roles", (k) => k.roles.join(", ")],
    ["Created", (k) => time(k.created_at)],
    ["State", (k) => (k.revoked_at ? ["Revoked ", time(k.revoked_at)] : "Active")],
    [
      "Actions",
      (k) => (k.revoked_at ? "" : h("button", { type: "button", class: "small", "aria-label": `Revoke ${k.name}`, onclick: () => revoke(k) }, "Revoke")),
    ],
  ];
  const load = listLoader(list, "/v1/admin/api-keys", "Loading the API keys", signal, {
    caption: "API keys",
    columns,
    key: (k) => k.name,
    empty: "No API keys yet.",
  });
  const form = h(
    "form",
    { class: "card admin-form", id: "new-key" },
    h("h2", {}, "New API key"),
    h("label", { for: "key-name" }, "Name (what uses it)"),
    h("input", { id: "key-name", name: "name", required: true, maxlength: "128" }),
    h("label", { for: "key-role" }, "Role"),
    h("select", { id: "key-role", name: "role" }, ROLES.map(([value, text]) => h("option", { value }, text))),
    h("div", { class: "buttons" }, h("button", { type: "submit", class: "primary" }, "Create key")),
  );
  onSubmit(form, "Creating the key", async (data) => {
    const created = await post("/v1/admin/api-keys", { name: String(data.get("name")).trim(), roles: [data.get("role")] });
    replace(secret, shownOnce(`The key for ${created.name}`, "new-key-secret", created.key));
    load();
  });

  async function revoke(key) {
    const ok = await confirmDialog({
      title: `Revoke ${key.name}?`,
      text: "Whatever uses this key is refused from now on. This cannot be undone.",
      confirm: "Revoke",
      danger: true,
    });
    if (!ok) return;
    try {
      await api("DELETE", route`/v1/admin/api-keys/${key.id}`);
      showMessage(`The key ${key.name} was revoked.`);
      load();
    } catch (error) {
      showError(error, "Revoking the key");
    }
  }

  replace(main, secret, list, form);
  load();
  return null;
}
