// A folder of a bucket: breadcrumbs, the Upload button, the subfolders first (they come
// from `GET /v1/folders`), then the files directly in it (`GET /v1/files?delimiter=/`),
// page after page as the end scrolls into view, as a table or a grid of thumbnails. The
// order, the filters (status, type) and the table or grid are in the URL
// (`?sort=-size&status=failed&type=image/*&view=grid`), so reload and bookmarks keep them.
// Files can be selected and deleted together; an empty folder is a drop zone that says what
// to do.

import { del, get } from "../api.js";
import { downloadZip } from "../bundle.js";
import { filePicker, h, icon, replace } from "../dom.js";
import { showError, showMessage } from "../errors.js";
import { folderUrl, navigate } from "../router.js";
import { bucket as bucketInfo, may } from "../session.js";
import { enqueue, onChange } from "../upload.js";
import { confirmDialog } from "./dialogs.js";
import { fileGrid } from "./grid.js";
import { fileTable, infinite } from "./table.js";

const PAGE = 100;
const SORTS = [
  ["name", "Name, A to Z"],
  ["-name", "Name, Z to A"],
  ["size", "Smallest first"],
  ["-size", "Largest first"],
  ["created_at", "Oldest first"],
  ["-created_at", "Newest first"],
];
/** The statuses a person filters by (`GET /v1/files?status=`). */
const STATUSES = [
  ["", "Any status"],
  ["ready", "Ready"],
  ["processing", "Processing"],
  ["pending", "Waiting for upload"],
  ["failed", "Failed"],
  ["quarantined", "Quarantined"],
];
/** Types by family, or one type (`GET /v1/files?content_type=`). */
const TYPES = [
  ["", "Any type"],
  ["image/*", "Pictures"],
  ["application/pdf", "PDFs"],
  ["text/*", "Text and CSV"],
  ["audio/*", "Audio"],
  ["video/*", "Video"],
];

/** The one of `choices` the URL names, or the first. */
function chosen(params, key, choices) {
  const value = params.get(key) || "";
  return choices.some(([v]) => v === value) ? value : choices[0][0];
}

/** The folder view; returns a function that stops it. */
export function renderFolder(main, route, { signal }) {
  const { bucket, folder } = route;
  const sort = chosen(route.params, "sort", SORTS);
  const status_ = chosen(route.params, "status", STATUSES);
  const type = chosen(route.params, "type", TYPES);
  const grid = route.params.get("view") === "grid";
  const state = { sort, status: status_, type, view: grid ? "grid" : "" };
  const go = (change) => navigate(folderUrl(bucket, folder, { ...state, ...change }));
  const info = bucketInfo(bucket);
  const canRead = may("read");
  const canWrite = may("write");
  const canUpload = may("upload");

  const status = h("p", { class: "visually-hidden", role: "status", "aria-live": "polite" });
  const selectionBar = h("div", { class: "row selection", hidden: true });
  const picker = filePicker({ multiple: true, id: "upload-input" }, (files) => enqueue(files, bucket, folder));
  // Each file keeps its path below the folder picked (`webkitRelativePath`).
  const folderPicker = filePicker({ webkitdirectory: true, id: "upload-folder-input" }, (files) => enqueue(files, bucket, folder));
  const uploadButton = canUpload
    ? [
        h("button", { type: "button", class: "primary", id: "upload", "aria-keyshortcuts": "u", onclick: () => picker.click() }, icon("upload"), "Upload"),
        h("button", { type: "button", id: "upload-folder", onclick: () => folderPicker.click() }, icon("folder"), "Upload a folder"),
        folderPicker,
      ]
    : null;
  const caption = `Folders and files in ${bucket}/${folder}`;
  const table = grid
    ? fileGrid({ selectable: canRead, caption, onSelect: (ids) => showSelection(ids), signal })
    : fileTable({ sort, selectable: canRead, caption, onSort: (next) => go({ sort: next }), onSelect: (ids) => showSelection(ids) });
  const filtered = Boolean(status_ || type);
  const sentinel = h("div", { class: "sentinel" });
  const more = h("div", { class: "more" });
  const empty = h(
    "div",
    { class: "empty", hidden: true },
    filtered
      ? [h("p", {}, "No file here matches these filters."), h("p", {}, h("a", { href: folderUrl(bucket, folder, { view: state.view }) }, "Show every file"))]
      : [
          h("p", {}, "This folder is empty."),
          canUpload ? h("p", {}, "Drop files or folders here, or press Upload (or the U key) to choose some.") : h("p", {}, "Nothing has been uploaded here yet."),
        ],
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
    viewBar(state, go),
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

  const folders = new Set();
  function addFolder(f) {
    if (folders.has(f.prefix)) return;
    folders.add(f.prefix);
    table.addFolder(folderUrl(bucket, f.prefix, { view: state.view }), f);
  }

  async function loadFolders() {
    while (!foldersDone && !signal.aborted) {
      const page = await get("/v1/folders", { bucket, prefix: folder, cursor: folderCursor }, { signal });
      const items = sort === "-name" ? [...page.items].reverse() : page.items;
      for (const f of items) addFolder(f);
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
        { bucket, prefix: folder, delimiter: "/", sort, status: status_, content_type: type, limit: PAGE, cursor: fileCursor },
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
    if (parent !== folder) {
      // A dropped folder's file: its folder here shows up once the folders are listed.
      if (foldersDone && parent.startsWith(folder) && item.status && item.status !== "pending") {
        const name = parent.slice(folder.length).split("/")[0];
        addFolder({ name, prefix: `${folder}${name}/` });
        empty.hidden = true;
      }
      return;
    }
    if (seen.get(item.fileId) === item.status || !item.status || item.status === "pending") return;
    seen.set(item.fileId, item.status);
    get(`/v1/files/${encodeURIComponent(item.fileId)}`, undefined, { signal })
      .then((file) => {
        // Answers can cross: never replace a newer state with an older one.
        const at = Date.parse(file.updated_at);
        if (shown.has(file.id) && shown.get(file.id) > at) return;
        shown.set(file.id, at);
        if (table.has(file.id)) table.update(file);
        else if (!filtered) table.add([file]);
        empty.hidden = true;
      })
      .catch(() => {});
  });

  return () => {
    table.stop();
    stopScroll();
    stopFollowing();
    document.removeEventListener("keydown", onKey);
  };
}

/** Table or grid, the order (for the grid, which has no headers to click) and the filters;
 * each choice is a new URL. */
function viewBar(state, go) {
  const select = (id, label, choices, value, key) => [
    h("label", { class: "inline", for: id }, label),
    h(
      "select",
      { id, class: "compact", onchange: (e) => go({ [key]: e.target.value }) },
      choices.map(([v, text]) => h("option", { value: v, selected: v === value }, text)),
    ),
  ];
  const grid = state.view === "grid";
  return h(
    "div",
    { class: "toolbar viewbar" },
    h(
      "div",
      { class: "switch", role: "group", "aria-label": "Show as" },
      h("button", { type: "button", class: "small", id: "as-table", "aria-pressed": String(!grid), onclick: () => go({ view: "" }) }, "Table"),
      h("button", { type: "button", class: "small", id: "as-grid", "aria-pressed": String(grid), onclick: () => go({ view: "grid" }) }, "Grid"),
    ),
    select("filter-status", "Status", STATUSES, state.status, "status"),
    select("filter-type", "Type", TYPES, state.type, "type"),
    grid ? select("sort-by", "Order", SORTS, state.sort, "sort") : null,
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
