// The audit trail (`GET /v1/audit`, tenant admins): who did what, when, from where, with the
// request id to find it in the logs. Newest first; "Show older" follows the cursor. Used by
// a file's panel (`file_id=`) and by the admin page (actor, action and date filters).

import { get } from "../api.js";
import { h, replace } from "../dom.js";
import { errorNotice } from "../errors.js";
import { time } from "../format.js";

const PAGE = 50;

/** Actions in words; the code stays beside them (it is what the filters and a SIEM use). */
const ACTIONS = {
  "file.upload_created": "Upload started",
  "file.uploaded": "Uploaded",
  "file.ready": "Processed",
  "file.quarantined": "Quarantined",
  "file.downloaded": "Downloaded",
  "file.download_url_issued": "Download link issued",
  "file.updated": "Changed",
  "file.deleted": "Deleted",
  "file.restored": "Restored",
  "file.deduplicated": "Stored once (duplicate)",
  "file.upload_aborted": "Upload cancelled",
  "share.created": "Shared",
  "share.accessed": "Share link opened",
  "share.revoked": "Share revoked",
  "archive.requested": "Zip requested",
  "archive.ready": "Zip made",
};

/** The trail matching `filters` as a table that pages on demand. */
export function auditList(filters, { signal, compact = false } = {}) {
  const tbody = h("tbody");
  const more = h("button", { type: "button", class: "small", hidden: true, onclick: () => load() }, "Show older");
  const note = h("div", { "aria-live": "polite" });
  const table = h(
    "table",
    { class: "files audit" },
    h("caption", { class: "visually-hidden" }, "Audit trail, newest first"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["When", "What", "Who", compact ? null : "File", "From", "Details"].filter(Boolean).map((t) => h("th", { scope: "col" }, t)),
      ),
    ),
    tbody,
  );
  let cursor;

  async function load() {
    more.disabled = true;
    try {
      const page = await get("/v1/audit", { ...filters, limit: PAGE, cursor }, { signal });
      for (const entry of page.items) tbody.append(row(entry, compact));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      if (!tbody.firstChild) replace(note, h("p", { class: "hint" }, "Nothing recorded."));
    } catch (error) {
      if (error.name !== "AbortError") replace(note, errorNotice(error, "Loading the audit trail"));
    } finally {
      more.disabled = false;
    }
  }

  load();
  return h("div", { class: "audit-trail" }, h("div", { class: "table-wrap" }, table), note, more);
}

function row(entry, compact) {
  const words = ACTIONS[entry.action];
  return h(
    "tr",
    { dataset: { action: entry.action } },
    h("td", {}, time(entry.at)),
    h("td", {}, words ? [words, h("span", { class: "hint code" }, entry.action)] : entry.action),
    h("td", { class: "who" }, entry.actor),
    compact ? null : h("td", { class: "mono" }, entry.file_id || ""),
    h("td", {}, entry.client_ip || ""),
    h("td", { class: "details" }, details(entry)),
  );
}

/** A record's details as `key: value` pairs, short values only (a bundle's trace lists
 * every file, which the API has in full). */
function details(entry) {
  const pairs = Object.entries(entry.details || {})
    .filter(([, v]) => v !== null && typeof v !== "object")
    .slice(0, 6)
    .map(([k, v]) => `${k}: ${v}`);
  return [pairs.join(" · "), entry.request_id ? h("small", { class: "request-id" }, `Request id: ${entry.request_id}`) : null];
}
