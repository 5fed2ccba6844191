// What the admin pages share: a list loaded into its box, a form that posts, a plain table
// of items, and a secret shown once.

import { get } from "../../api.js";
import { h, replace } from "../../dom.js";
import { showError } from "../../errors.js";

/** A function that loads `path` and shows `render(answer)` in `box` (or says why not). */
export function loader(box, path, doing, signal, render) {
  box.setAttribute("aria-busy", "true");
  return async () => {
    try {
      const answer = await get(path, undefined, { signal });
      box.removeAttribute("aria-busy");
      replace(box, render(answer));
    } catch (error) {
      showError(error, doing);
    }
  };
}

/** A loader of a list route (`{items}`) shown as a table, or `empty` when there are none. */
export function listLoader(box, path, doing, signal, { caption, columns, key, empty }) {
  return loader(box, path, doing, signal, (answer) =>
    answer.items.length === 0 ? h("p", { class: "hint" }, empty) : listTable(caption, columns, answer.items, key),
  );
}

/** Submits `form` through `send(data)`; cleared when it worked, the failure said if not. */
export function onSubmit(form, doing, send) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await send(new FormData(form));
      form.reset();
    } catch (error) {
      showError(error, doing);
    }
  });
  return form;
}

/** A plain table: `columns` as `[header, cell(item)]`, one row per item (`key(item)` in
 * `data-key`). */
export function listTable(caption, columns, items, key) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "files admin" },
      h("caption", { class: "visually-hidden" }, caption),
      h("thead", {}, h("tr", {}, columns.map(([header]) => h("th", { scope: "col" }, header)))),
      h(
        "tbody",
        {},
        items.map((item) => h("tr", { dataset: { key: key(item) } }, columns.map(([, cell]) => h("td", {}, cell(item))))),
      ),
    ),
  );
}

/** A secret shown once (a new API key, a webhook's signing secret), with Copy. */
export function shownOnce(label, id, secret) {
  const field = h("input", { id, value: secret, readonly: true, class: "mono", spellcheck: "false" });
  const copy = h("button", { type: "button", class: "small" }, "Copy");
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(secret);
      copy.textContent = "Copied";
    } catch {
      field.select();
      copy.textContent = "Selected: press Ctrl+C";
    }
  });
  return h(
    "div",
    { class: "notice ok", role: "status" },
    h("label", { for: id }, label),
    h("div", { class: "row nowrap" }, field, copy),
    h("p", { class: "hint" }, "It is shown this once: filegate keeps only a hash of it (or keeps it sealed). Store it now."),
  );
}
