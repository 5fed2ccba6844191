// The share dialog: permission, expiry, password, download limit, recipient; then the link
// with a copy button and its QR code. The QR code is the server's (`qr_url`, an SVG the
// qrcode crate draws at `/s/{token}/qr.svg`): the page draws nothing itself and loads it
// as an image from this origin.

import { post, route } from "../api.js";
import { h } from "../dom.js";
import { openDialog, formDialog } from "./dialogs.js";

const EXPIRY = [
  [3600, "1 hour"],
  [86400, "1 day"],
  [7 * 86400, "7 days"],
  [30 * 86400, "30 days"],
];

/** Asks how to share `file`, creates the share, shows the link. Resolves to the share. */
export async function shareDialog(file) {
  const created = await formDialog({
    title: `Share ${file.name}`,
    submitLabel: "Create link",
    fields: () => [
      h("label", { for: "share-permission" }, "People with the link can"),
      h(
        "select",
        { id: "share-permission", name: "permission" },
        h("option", { value: "download" }, "View and download"),
        h("option", { value: "view" }, "View only"),
      ),
      h("label", { for: "share-expiry" }, "The link expires after"),
      h(
        "select",
        { id: "share-expiry", name: "expires_in" },
        EXPIRY.map(([secs, label]) => h("option", { value: String(secs), selected: secs === 86400 }, label)),
      ),
      h("label", { for: "share-password" }, "Password (optional)"),
      h("input", { id: "share-password", name: "password", type: "password", autocomplete: "new-password",}),
      h("label", { for: "share-limit" }, "Download limit (optional)"),
      h("input", { id: "share-limit", name: "max_downloads", type: "number", min: "1", max: "1000000", inputmode: "numeric" }),
      h("label", { for: "share-email" }, "Send the link to (optional)"),
      h("input", { id: "share-email", name: "recipient_email", type: "email", autocomplete: "email" }),
    ],
    submit: (form) => {
      const data = new FormData(form);
      const body = {
        permission: data.get("permission"),
        expires_in: Number(data.get("expires_in")),
      };
      if (data.get("password")) body.password = data.get("password");
      if (data.get("max_downloads")) body.max_downloads = Number(data.get("max_downloads"));
      if (data.get("recipient_email")) {
        body.recipient_email = data.get("recipient_email");
        body.notify = true;
      }
      return post(route`/v1/files/${file.id}/shares`, body);
    },
  });
  if (created) await showLink(created);
  return created;
}

/** The link, a copy button, and the QR code. */
function showLink(created) {
  return openDialog("Link created", (close) => {
    const link = h("input", { id: "share-link", type: "text", readonly: true, value: created.url, "aria-label": "The link" });
    const copied = h("span", { class: "hint", role: "status" });
    return [
      h("p", {}, "Anyone with this link can open the file until it expires. It is shown this once: copy it now."),
      h(
        "div",
        { class: "row" },
        link,
        h(
          "button",
          {
            type: "button",
            onclick: async () => {
              link.select();
              try {
                await navigator.clipboard.writeText(created.url);
                copied.textContent = "Copied.";
              } catch {
                copied.textContent = "Select the link and copy it with your keyboard.";
              }
            },
          },
          "Copy",
        ),
      ),
      copied,
      created.email_queued ? h("p", { class: "hint" }, `The link is on its way to ${created.recipient_email}.`) : null,
      h("img", { class: "qr", id: "share-qr", src: created.qr_url, alt: "QR code of the link", width: "240", height: "240" }),
      h("div", { class: "buttons" }, h("button", { type: "button", class: "primary", onclick: () => close(true), autofocus: true }, "Done")),
    ];
  });
}
