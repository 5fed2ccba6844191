// Modal dialogs on the native <dialog>: it traps the focus, Escape closes it, and the
// focus returns to where it was.

import { append, h } from "../dom.js";
import { errorNotice } from "../errors.js";

/** Opens a dialog with `content`; resolves with what `close(value)` was given (or null). */
export function openDialog(title, build) {
  return new Promise((resolve) => {
    const before = document.activeElement;
    const heading = h("h2", { id: "dialog-title" }, title);
    const dialog = h("dialog", { "aria-labelledby": "dialog-title" }, heading);
    let result = null;
    const close = (value) => {
      result = value;
      dialog.close();
    };
    append(dialog, [build(close, dialog)]);
    dialog.addEventListener("close", () => {
      dialog.remove();
      if (before && before.isConnected) before.focus();
      resolve(result);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** "Delete x?" with what happens; resolves true when confirmed. */
export function confirmDialog({ title, text, confirm, danger }) {
  return openDialog(title, (close) => [
    h("p", {}, text),
    h(
      "div",
      { class: "buttons" },
      h("button", { type: "button", onclick: () => close(false), autofocus: true }, "Cancel"),
      h("button", { type: "button", class: danger ? "danger" : "primary", id: "confirm", onclick: () => close(true) }, confirm),
    ),
  ]).then(Boolean);
}

/**
 * A form in a dialog: `fields(form)` returns its controls, `submit(form)` does the work
 * (a rejection shows as a sentence in the dialog and keeps it open), and what it resolves
 * to is what the dialog resolves to.
 */
export function formDialog({ title, fields, submitLabel, submit }) {
  return openDialog(title, (close) => {
    const messages = h("div", { class: "messages", "aria-live": "polite" });
    const button = h("button", { type: "submit", class: "primary" }, submitLabel);
    const form = h(
      "form",
      {
        method: "dialog",
        onsubmit: async (event) => {
          event.preventDefault();
          button.disabled = true;
          messages.replaceChildren();
          try {
            close(await submit(form));
          } catch (error) {
            messages.replaceChildren(errorNotice(error));
            button.disabled = false;
          }
        },
      },
      messages,
    );
    form.append(...fields(form).flat().filter(Boolean));
    form.append(
      h("div", { class: "buttons" }, h("button", { type: "button", onclick: () => close(null) }, "Cancel"), button),
    );
    return form;
  });
}
