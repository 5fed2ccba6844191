// Admin, the audit trail (`GET /v1/audit`) with its filters in the URL
// (`/app/admin/audit?actor=…&action=file.*&since=2026-01-01`).

import { h, replace } from "../../dom.js";
import { adminUrl, navigate } from "../../router.js";
import { auditList } from "../audit.js";

export function renderAuditPage(main, route, { signal }) {
  const params = route.params;
  const filters = {
    actor: params.get("actor") || "",
    action: params.get("action") || "",
    since: params.get("since") || "",
  };
  const field = (name, label, attrs) => [
    h("label", { for: `audit-${name}` }, label),
    h("input", { id: `audit-${name}`, name, value: filters[name], ...attrs }),
  ];
  const form = h(
    "form",
    {
      class: "filters",
      id: "audit-filters",
      onsubmit: (event) => {
        event.preventDefault();
        const data = Object.fromEntries(new FormData(form));
        navigate(adminUrl("audit", data));
      },
    },
    h("div", {}, field("actor", "Who", { placeholder: "a subject, key:<id>", spellcheck: "false" })),
    h("div", {}, field("action", "What", { placeholder: "file.downloaded, file.*", spellcheck: "false" })),
    h("div", {}, field("since", "Since", { type: "date" })),
    h("div", { class: "buttons" }, h("button", { type: "submit", class: "primary" }, "Filter")),
  );
  const query = { ...filters, since: filters.since ? new Date(filters.since).toISOString() : "" };
  replace(main, form, auditList(query, { signal }));
  return null;
}
