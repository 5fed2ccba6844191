// Admin, webhooks (`/v1/webhooks`): the subscriptions, a new one (its signing secret shown
// once), delete, and each one's latest delivery attempts.

import { api, get, post, route } from "../../api.js";
import { h, replace } from "../../dom.js";
import { showError, showMessage } from "../../errors.js";
import { time } from "../../format.js";
import { confirmDialog, openDialog } from "../dialogs.js";
import { listLoader, listTable, onSubmit, shownOnce } from "./parts.js";

export function renderWebhooks(main, _route, { signal }) {
  const list = h("div", {});
  const secret = h("div", { "aria-live": "polite" });
  const columns = [
    ["URL", (w) => h("span", { class: "mono" }, w.url)],
    ["Events", (w) => w.events.join(", ")],
    ["Created", (w) => time(w.created_at)],
    [
      "Actions",
      (w) =>
        h(
          "div",
          { class: "row" },
          h("button", { type: "button", class: "small", "aria-label": `Deliveries to ${w.url}`, onclick: () => deliveries(w) }, "Deliveries"),
          h("button", { type: "button", class: "small", "aria-label": `Delete the webhook to ${w.url}`, onclick: () => remove(w) }, "Delete"),
        ),
    ],
  ];
  const load = listLoader(list, "/v1/webhooks", "Loading the webhooks", signal, {
    caption: "Webhooks",
    columns,
    key: (w) => w.url,
    empty: "No webhooks yet.",
  });
  const form = h(
    "form",
    { class: "card admin-form", id: "new-webhook" },
    h("h2", {}, "New webhook"),
    h("label", { for: "webhook-url" }, "URL that receives the events"),
    h("input", { id: "webhook-url", name: "url", type: "url", required: true, placeholder: "https://hooks.example.org/filegate" }),
    h("label", { for: "webhook-events" }, "Events (comma separated)"),
    h("input", { id: "webhook-events", name: "events", required: true, value: "file.*", spellcheck: "false", "aria-describedby": "webhook-events-hint" }),
    h("p", { class: "hint", id: "webhook-events-hint" }, "A type (file.ready), a family (file.*, alert.*) or * for every event."),
    h("div", { class: "buttons" }, h("button", { type: "submit", class: "primary" }, "Create webhook")),
  );
  onSubmit(form, "Creating the webhook", async (data) => {
    const events = String(data.get("events"))
      .split(",")
      .map((e) => e.trim())
      .filter(Boolean);
    const created = await post("/v1/webhooks", { url: String(data.get("url")).trim(), events });
    replace(secret, shownOnce(`The signing secret of ${created.url}`, "new-webhook-secret", created.secret));
    load();
  });

  async function remove(hook) {
    const ok = await confirmDialog({
      title: "Delete this webhook?",
      text: `${hook.url} gets no more events, and its queued deliveries and their history are dropped.`,
      confirm: "Delete",
      danger: true,
    });
    if (!ok) return;
    try {
      await api("DELETE", route`/v1/webhooks/${hook.id}`);
      showMessage("The webhook was deleted.");
      load();
    } catch (error) {
      showError(error, "Deleting the webhook");
    }
  }

  async function deliveries(hook) {
    try {
      const page = await get(route`/v1/webhooks/${hook.id}/deliveries`, { limit: 50 });
      await openDialog(`Deliveries to ${hook.url}`, (close) => [
        page.items.length === 0
          ? h("p", {}, "Nothing delivered yet.")
          : listTable(
              "Deliveries, newest first",
              [
                ["When", (d) => time(d.attempted_at)],
                ["Event", (d) => d.event_type],
                ["Attempt", (d) => String(d.attempt)],
                ["Answer", (d) => (d.delivered ? `Delivered (${d.status_code})` : d.status_code ? `Refused (${d.status_code})` : d.error || "No answer")],
              ],
              page.items,
              (d) => d.id,
            ),
        h("div", { class: "buttons" }, h("button", { type: "button", class: "primary", onclick: () => close(null) }, "Close")),
      ]);
    } catch (error) {
      showError(error, "Loading the deliveries");
    }
  }

  replace(main, secret, list, form);
  load();
  return null;
}
