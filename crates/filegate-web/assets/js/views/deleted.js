// Deleted files (`GET /v1/files?status=deleted`), newest first, each with the day it will
// be purged and, for writers, Restore.

import { api, get, route } from "../api.js";
import { h, icon, replace } from "../dom.js";
import { showError, showMessage } from "../errors.js";
import { day, size, time } from "../format.js";
import { deletedUrl, navigate } from "../router.js";
import { bucket as bucketInfo, bucketList, may } from "../session.js";
import { fileTable, infinite } from "./table.js";

const DAY_MS = 86400 * 1000;

export function renderDeleted(main, route_, { signal }) {
  const only = route_.params.get("bucket") || "";
  const columns = [
    { key: "name", label: "Name", cell: (f) => f.name },
    { key: "path", label: "Where", cell: (f) => `${f.bucket}/${f.path}` },
    { key: "size", label: "Size", num: true, cell: (f) => size(f.size) },
    { key: "deleted", label: "Deleted", cell: (f) => time(f.deleted_at) },
    { key: "purge", label: "Gone for good on", cell: (f) => purgeDay(f) },
  ];
  const table = fileTable({
    columns,
    caption: "Deleted files",
    extra: may("write")
      ? (file) => h("button", { type: "button", class: "small", "aria-label": `Restore ${file.name}`, onclick: () => restore(file) }, icon("restore"), "Restore")
      : null,
  });
  const sentinel = h("div", { class: "sentinel" });
  const empty = h("div", { class: "empty", hidden: true }, h("p", {}, "Nothing has been deleted."));
  const filter = h(
    "select",
    { id: "deleted-bucket", onchange: () => navigate(deletedUrl({ bucket: filter.value })) },
    h("option", { value: "" }, "All buckets"),
    bucketList().map((b) => h("option", { value: b.name, selected: b.name === only }, b.name)),
  );
  replace(
    main,
    h("h1", { class: "title" }, "Deleted files"),
    h(
      "div",
      { class: "toolbar" },
      h("label", { class: "inline", for: "deleted-bucket" }, "Bucket"),
      h("div", {}, filter),
      h("p", { class: "hint" }, "Deleted files can be restored until the day shown; then they are removed for good."),
    ),
    table.element,
    empty,
    sentinel,
  );

  let cursor;
  let done = false;
  async function loadPage() {
    if (done) return false;
    table.setLoading(true);
    try {
      const page = await get("/v1/files", { status: "deleted", bucket: only, sort: "-created_at", limit: 100, cursor }, { signal });
      table.setLoading(false);
      table.add(page.items);
      cursor = page.next_cursor;
      done = !cursor;
      empty.hidden = !(done && table.isEmpty());
      return !done;
    } catch (error) {
      table.setLoading(false);
      if (error.name !== "AbortError") showError(error, "Loading the deleted files");
      return false;
    }
  }

  async function restore(file) {
    try {
      await api("POST", route`/v1/files/${file.id}/restore`);
      table.remove(file.id);
      showMessage(`${file.name} was restored to ${file.bucket}/${file.path}.`);
      empty.hidden = !table.isEmpty();
    } catch (error) {
      showError(error, "Restoring");
    }
  }

  return infinite(sentinel, loadPage);
}

function purgeDay(file) {
  const info = bucketInfo(file.bucket);
  if (!file.deleted_at || !info) return "";
  return day(new Date(new Date(file.deleted_at).getTime() + info.retention_days * DAY_MS));
}
