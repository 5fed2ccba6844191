// A folder of a bucket: breadcrumbs, the Upload button, the subfolders first (they come
// from `GET /v1/folders`), then the files directly in it (`GET /v1/files?delimiter=/`),
// page after page as the table's end scrolls into view. Files can be selected and deleted
// together; an empty folder is a drop zone that says what to do.

import { del, get } from "../api.js";
import { downloadZip } from "../bundle.js";
import { h, hidden, icon, replace } from "../dom.js";
import { showError, showMessage } from "../errors.js";
import { folderUrl, navigate } from "../router.js";
import { bucket as bucketInfo, may } from "../session.js";
import { enqueue, onChange } from "../upload.js";
import { confirmDialog } from "./dialogs.js";
import { fileTable, infinite } from "./table.js";

const PAGE = 100;
const SORTS = ["name", "-name", "size", "-size", "created_at", "-created_at"];

/** The folder view; returns a function that stops it. */
export function renderFolder(main, route, { signal }) {
  const { bucket, folder } = route;
  const sort = SORTS.includes(route.params.get("sort")) ? route.params.get("sort") : "name";
  const info = bucketInfo(bucket);
  const canRead = may("read");
  const canWrite = may("write");
  const canUpload = may("upload");

  const status = h("p", { class: "visually-hidden", role: "status", "aria-live": "polite" });
  const selectionBar = h("div", { class: "row selection", hidden: true });
  const picker = h("input", {
    type: "file",
    multiple: true,
    id: "upload-input",
    class: "visually-hidden",
    tabindex: "-1",
    "aria-hidden": "true",
    onchange: () => {
      if (picker.files.length) enqueue([...picker.files], bucket, folder);
      picker.value = "";
    },
  });
  const uploadButton = canUpload
    ? h("button", { type: "button", class: "primary", id: "upload", "aria-keyshortcuts": "u", onclick: () => picker.click() }, icon("upload"), "Upload")
    : null;
  const table = fileTable({
    sort,
    selectable: canRead,
    caption: `Folders and files in ${bucket}/${folder}`,
    onSort: (next) => navigate(folderUrl(bucket, folder, { sort: next })),
    onSelect: (ids) => showSelection(ids),
  });
  const sentinel = h("div", { class: "sentinel" });
  const more = h("div", { class: "more" });
  const empty = h(
    "div",
    { class: "empty", hidden: true },
    h("p", {}, "This folder is empty."),
    canUpload ? h("p", {}, "Drop files here, or press Upload (or the U key) to choose some.") : h("p", {}, "Nothing has been uploaded here yet."),
  );

  replace(
    main,
    crumbs(bucket, folder),
    h(
      "div",
      { class: "toolbar" },
      h("h1", { class: "title visually-hidden" }, folder ? `${bucket}/${folder}` : bucket),
      uploadButton,
      picker,
      info && info.encrypted ? h("p", { class: "hint" }, icon("key"), " Encrypted exchange bucket: only files encrypted with the exchange passphrase are accepted (use the command-line client).") : null,
      selectionBar,
    ),
    status,
    table.element,
    empty,
    sentinel,
    more,
  );

  function showSelection(ids) {
    selectionBar.hidden = ids.length === 0;
    replace(
      selectionBar,
      h("span", {}, `${ids.length} selected`),
      h("button", { type: "button", class: "small", id: "zip-selected", onclick: () => zipSelected(ids) }, icon("download"), "Download as zip"),
      canWrite
        ? h("button", { type: "button", class: "small", id: "delete-selected", onclick: () => deleteSelected(ids) }, icon("trash"), "Delete")
        : null,
    );
  }

  async function zipSelected(ids) {
    try {
      await downloadZip(ids, (text) => showMessage(text));
    } catch (error) {
      showError(error, "Making the zip");
    }
  }

  async function deleteSelected(ids) {
    const days = info ? info.retention_days : 30;
    const ok = await confirmDialog({
      title: `Delete ${ids.length} file${ids.length === 1 ? "" : "s"}?`,
      text: `Deleted files can be restored from Deleted for ${days} days.`,
      confirm: "Delete",
      danger: true,
    });
    if (!ok) return;
    try {
      const answer = await del("/v1/files", { ids: ids.join(",") });
      for (const f of answer.deleted) table.remove(f.id || f);
      showSelection([]);
      showMessage(`${answer.deleted.length} file${answer.deleted.length === 1 ? "" : "s"} deleted.`);
      showEmpty();
    } catch (error) {
      showError(error, "Deleting");
    }
  }

  function showEmpty() {
    empty.hidden = !(done && table.isEmpty());
  }

  // Folders first: every page of them (a folder rarely has more than a few hundred).
  let folderCursor;
  let foldersDone = false;
  let fileCursor;
  let done = false;

  async function loadFolders() {
    while (!foldersDone && !signal.aborted) {
      const page = await get("/v1/folders", { bucket, prefix: folder, cursor: folderCursor }, { signal });
      const items = sort === "-name" ? [...page.items].reverse() : page.items;
      for (const f of items) table.addRow(folderRow(bucket, f, canRead));
      folderCursor = page.next_cursor;
      foldersDone = !folderCursor;
    }
  }

  async function loadPage() {
    if (done || signal.aborted) return false;
    table.setLoading(true);
    try {
      if (!foldersDone) await loadFolders();
      const page = await get(
        "/v1/files",
        { bucket, prefix: folder, delimiter: "/", sort, limit: PAGE, cursor: fileCursor },
        { signal },
      );
      table.setLoading(false);
      table.add(page.items);
      fileCursor = page.next_cursor;
      done = !fileCursor;
      replace(more, done ? "" : "Loading more…");
      status.textContent = done ? "All files shown." : "";
      showEmpty();
      return !done;
    } catch (error) {
      table.setLoading(false);
      if (error.name !== "AbortError") showError(error, "Loading this folder");
      return false;
    }
  }

  const stopScroll = infinite(sentinel, loadPage);

  // Delete asks to delete what is selected.
  const onKey = (event) => {
    const ids = table.selected();
    if (event.key !== "Delete" || !canWrite || ids.length === 0 || event.target.closest("input:not([type=checkbox]), textarea, dialog")) return;
    event.preventDefault();
    deleteSelected(ids);
  };
  document.addEventListener("keydown", onKey);

  // Finished uploads into this folder show up without a reload.
  const seen = new Map();
  const shown = new Map();
  const stopFollowing = onChange((item) => {
    if (signal.aborted || !item || item.bucket !== bucket || !item.fileId) return;
    const parent = item.path.slice(0, item.path.lastIndexOf("/") + 1);
    if (parent !== folder) return;
    if (seen.get(item.fileId) === item.status || !item.status || item.status === "pending") return;
    seen.set(item.fileId, item.status);
    get(`/v1/files/${encodeURIComponent(item.fileId)}`, undefined, { signal })
      .then((file) => {
        // Answers can cross: never replace a newer state with an older one.
        const at = Date.parse(file.updated_at);
        if (shown.has(file.id) && shown.get(file.id) > at) return;
        shown.set(file.id, at);
        if (table.tbody.querySelector(`tr[data-id="${CSS.escape(file.id)}"]`)) table.update(file);
        else table.add([file]);
        empty.hidden = true;
      })
      .catch(() => {});
  });

  return () => {
    stopScroll();
    stopFollowing();
    document.removeEventListener("keydown", onKey);
  };
}

function folderRow(bucket, f, selectable) {
  return h(
    "tr",
    { class: "folder", dataset: { folder: f.prefix } },
    selectable ? h("td", { class: "col-check" }) : null,
    h("td", { class: "col-name name" }, h("a", { href: folderUrl(bucket, f.prefix) }, icon("folder"), f.name, hidden(", folder"))),
    h("td", { class: "col-size num" }),
    h("td", { class: "col-type" }, "Folder"),
    h("td", { class: "col-status" }),
    h("td", { class: "col-modified" }),
    h("td", { class: "col-downloads num" }),
  );
}

/** The bucket, then each folder of the prefix, the last one current. */
export function crumbs(bucket, folder, { last = true } = {}) {
  const parts = folder.split("/").filter((s) => s !== "");
  const items = [h("li", {}, h("a", { href: folderUrl(bucket), "aria-current": parts.length === 0 && last ? "page" : false }, bucket))];
  parts.forEach((part, i) => {
    const prefix = parts.slice(0, i + 1).join("/") + "/";
    const current = i === parts.length - 1 && last;
    items.push(h("li", {}, h("a", { href: folderUrl(bucket, prefix), "aria-current": current ? "page" : false }, part)));
  });
  return h("nav", { class: "crumbs", "aria-label": "Breadcrumbs" }, h("ol", {}, items));
}
