// The admin pages (`/app/admin/{section}`, tenant admins): buckets and their policies, API
// keys, webhooks and their deliveries, quotas and usage, the audit trail. Each section is
// its own module speaking the admin routes of the API; the server refuses everyone else
// anyway, and the page offers the section only to a role that may administer.

import { h, replace } from "../../dom.js";
import { adminUrl } from "../../router.js";
import { may } from "../../session.js";
import { renderAuditPage } from "./audit.js";
import { renderBuckets } from "./buckets.js";
import { renderKeys } from "./keys.js";
import { renderUsage } from "./usage.js";
import { renderWebhooks } from "./webhooks.js";

export const SECTIONS = [
  ["buckets", "Buckets", renderBuckets],
  ["keys", "API keys", renderKeys],
  ["webhooks", "Webhooks", renderWebhooks],
  ["usage", "Quota and usage", renderUsage],
  ["audit", "Audit trail", renderAuditPage],
];

export function renderAdmin(main, route, options) {
  if (!may("administer")) {
    replace(main, h("h1", { class: "title" }, "Administration"), h("p", {}, "Your role does not allow administering this tenant."));
    return null;
  }
  const section = SECTIONS.find(([key]) => key === route.section) || SECTIONS[0];
  const body = h("div", {});
  replace(
    main,
    h("h1", { class: "title" }, `Administration: ${section[1]}`),
    h(
      "nav",
      { class: "tabs", "aria-label": "Administration" },
      h(
        "ul",
        {},
        SECTIONS.map(([key, label]) =>
          h("li", {}, h("a", { href: adminUrl(key), "aria-current": key === section[0] ? "page" : false }, label)),
        ),
      ),
    ),
    body,
  );
  return section[2](body, route, options);
}
