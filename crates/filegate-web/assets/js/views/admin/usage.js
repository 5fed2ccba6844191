// Admin, quota and usage (`GET /v1/admin/usage`): what the tenant stores against its quota,
// as bars with the numbers in words, and each bucket's share. Quotas are set by a
// superadmin (`PUT /v1/admin/quotas`, the CLI); a tenant admin reads them here.

import { h, replace } from "../../dom.js";
import { size } from "../../format.js";
import { listTable, loader } from "./parts.js";

export function renderUsage(main, _route, { signal }) {
  const box = h("div", {});
  const load = loader(box, "/v1/admin/usage", "Loading the usage", signal, (usage) => [
    h(
      "section",
      { class: "card", id: "usage", "aria-labelledby": "usage-title" },
      h("h2", { id: "usage-title" }, `Tenant ${usage.tenant}`),
      meter("usage-bytes", "Storage", usage.bytes, usage.max_bytes, size),
      meter("usage-files", "Files", usage.files, usage.max_files, (n) => n.toLocaleString()),
    ),
    usage.buckets.length
      ? listTable(
          "Usage by bucket",
          [
            ["Bucket", (b) => b.name],
            ["Files", (b) => b.files.toLocaleString()],
            ["Storage", (b) => size(b.bytes)],
          ],
          usage.buckets,
          (b) => b.name,
        )
      : h("p", { class: "hint" }, "Nothing stored yet."),
  ]);
  replace(main, box);
  load();
  return null;
}

/** A bar against the quota (or the number alone when there is none). */
function meter(id, label, used, max, words) {
  if (max === null || max === undefined) {
    return h("p", { class: "meter", id }, h("strong", {}, `${label}: `), `${words(used)} used · no quota`);
  }
  return h(
    "div",
    { class: "meter" },
    h("label", { for: id }, label),
    h("meter", { id, min: "0", max: String(max), value: String(used), high: String(max * 0.9) }),
    h("p", { class: "hint" }, `${words(used)} of ${words(max)} used`),
  );
}
