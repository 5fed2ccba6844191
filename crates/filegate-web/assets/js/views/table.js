// A table of files: headers that sort (the order lives in the URL), a checkbox per row for
// multi-select, rows appended page by page as the end of the table scrolls into view (the
// API's cursor), fixed row heights and placeholder rows so nothing jumps while loading.

import { h, hidden, icon, replace } from "../dom.js";
import { kind, size, statusCell, time } from "../format.js";
import { fileUrl } from "../router.js";

/** The columns of a file row: key, header, sort key (or none), cell. */
export const COLUMNS = [
  { key: "name", label: "Name", sort: "name", cell: (f) => nameCell(f) },
  { key: "size", label: "Size", sort: "size", num: true, cell: (f) => size(f.size) },
  { key: "type", label: "Type", cell: (f) => kind(f.content_type) },
  { key: "status", label: "Status", cell: (f) => statusCell(f) },
  // Sorted by when it was uploaded, which the API orders by (a rename changes `updated_at`,
  // shown in the file's panel as Modified).
  { key: "modified", label: "Uploaded", sort: "created_at", cell: (f) => time(f.created_at) },
  { key: "downloads", label: "Downloads", num: true, cell: (f) => String(f.download_count) },
];

function nameCell(file) {
  const image = (file.content_type || "").startsWith("image/");
  return h("a", { href: fileUrl(file.id) }, icon(image ? "image" : "file"), file.name);
}

/**
 * `fileTable({columns, sort, onSort, selectable, caption})`: returns `{element, add(files),
 * addFolder(href, folder), has(id), update(file), remove(id), setLoading(bool), selected(),
 * clear(), isEmpty(), stop()}`; `onSelect(ids)` is called when the selection changes. The
 * grid (`grid.js`) answers the same.
 */
export function fileTable({ columns = COLUMNS, sort, onSort, selectable, caption, onSelect, extra }) {
  const selection = new Set();
  let pending = null;
  const tbody = h("tbody");
  const all = h("input", {
    type: "checkbox",
    "aria-label": "Select all files shown",
    onchange: () => {
      for (const box of tbody.querySelectorAll("input[data-id]")) {
        box.checked = all.checked;
        toggle(box.dataset.id, all.checked, box.closest("tr"));
      }
      onSelect && onSelect([...selection]);
    },
  });
  const heads = columns.map((c) => {
    const direction = sortDirection(sort, c.sort);
    const th = h("th", {
      scope: "col",
      class: [`col-${c.key}`, c.num ? "num" : ""].join(" ").trim(),
      "aria-sort": direction || false,
    });
    if (c.sort && onSort) {
      const next = direction === "ascending" ? `-${c.sort}` : c.sort;
      const arrow = direction === "ascending" ? " ↑" : direction === "descending" ? " ↓" : "";
      th.append(h("button", { type: "button", onclick: () => onSort(next) }, c.label, arrow, hidden(", sort")));
    } else {
      th.append(c.label);
    }
    return th;
  });
  if (extra) heads.push(h("th", { scope: "col" }, hidden("Actions")));
  const table = h(
    "table",
    { class: "files" },
    caption ? h("caption", { class: "visually-hidden" }, caption) : null,
    h("thead", {}, h("tr", {}, selectable ? h("th", { class: "col-check", scope: "col" }, all) : null, heads)),
    tbody,
  );

  function toggle(id, on, tr) {
    if (on) selection.add(id);
    else selection.delete(id);
    if (tr) tr.setAttribute("aria-selected", String(on));
  }

  function fileRow(file) {
    const tr = h("tr", { dataset: { id: file.id, name: file.name, status: file.status } });
    if (selectable) {
      const box = h("input", {
        type: "checkbox",
        dataset: { id: file.id },
        "aria-label": `Select ${file.name}`,
        onchange: () => {
          toggle(file.id, box.checked, tr);
          onSelect && onSelect([...selection]);
        },
      });
      tr.append(h("td", { class: "col-check" }, box));
      tr.setAttribute("aria-selected", "false");
    }
    for (const c of columns) {
      tr.append(h("td", { class: cellClass(c) }, c.cell(file)));
    }
    if (extra) tr.append(h("td", {}, extra(file)));
    return tr;
  }

  const placeholders = () =>
    Array.from({ length: 3 }, () =>
      h(
        "tr",
        { class: "placeholder", "aria-hidden": "true" },
        selectable ? h("td", {}) : null,
        columns.map(() => h("td", {})),
        extra ? h("td", {}) : null,
      ),
    );

  return {
    element: h("div", { class: "table-wrap" }, table),
    tbody,
    add(files) {
      for (const file of files) {
        // A file added while earlier pages loaded (an upload) is not listed twice.
        if (!tbody.querySelector(`tr[data-id="${CSS.escape(file.id)}"]`)) tbody.append(fileRow(file));
      }
    },
    /** A folder's row (folders come first, before any file). */
    addFolder(href, f) {
      tbody.append(
        h(
          "tr",
          { class: "folder", dataset: { folder: f.prefix } },
          selectable ? h("td", { class: "col-check" }) : null,
          columns.map((c) =>
            h(
              "td",
              { class: cellClass(c) },
              c.key === "name" ? h("a", { href }, icon("folder"), f.name, hidden(", folder")) : c.key === "type" ? "Folder" : null,
            ),
          ),
          extra ? h("td", {}) : null,
        ),
      );
    },
    has: (id) => tbody.querySelector(`tr[data-id="${CSS.escape(id)}"]`) !== null,
    /** Placeholder rows while a page loads, only past 150 ms (a fast answer shows none). */
    setLoading(loading) {
      clearTimeout(pending);
      tbody.querySelectorAll("tr.placeholder").forEach((tr) => tr.remove());
      if (loading) pending = setTimeout(() => tbody.append(...placeholders()), 150);
      table.setAttribute("aria-busy", String(loading));
    },
    /** Replaces one file's row (after its status or name changed). */
    update(file) {
      const old = tbody.querySelector(`tr[data-id="${CSS.escape(file.id)}"]`);
      if (!old) return;
      const fresh = fileRow(file);
      if (selection.has(file.id)) {
        const box = fresh.querySelector("input[data-id]");
        if (box) box.checked = true;
        fresh.setAttribute("aria-selected", "true");
      }
      old.replaceWith(fresh);
    },
    remove(id) {
      const row = tbody.querySelector(`tr[data-id="${CSS.escape(id)}"]`);
      if (row) row.remove();
      selection.delete(id);
    },
    selected: () => [...selection],
    clear() {
      selection.clear();
      all.checked = false;
      replace(tbody);
    },
    isEmpty: () => tbody.querySelector("tr:not(.placeholder)") === null,
    stop() {},
  };
}

function cellClass(c) {
  return [`col-${c.key}`, c.key === "name" ? "name" : "", c.num ? "num" : ""].join(" ").trim();
}

function sortDirection(sort, key) {
  if (!key || !sort) return null;
  if (sort === key) return "ascending";
  if (sort === `-${key}`) return "descending";
  return null;
}

/** Calls `load()` each time `sentinel` scrolls into view, until it returns false. */
export function infinite(sentinel, load) {
  let busy = false;
  let finished = false;
  const observer = new IntersectionObserver(
    async (entries) => {
      if (busy || finished || !entries.some((e) => e.isIntersecting)) return;
      busy = true;
      try {
        finished = !(await load());
      } finally {
        busy = false;
      }
      if (finished) observer.disconnect();
      else {
        // Still in view (a short page): ask again.
        observer.unobserve(sentinel);
        observer.observe(sentinel);
      }
    },
    { rootMargin: "400px" },
  );
  observer.observe(sentinel);
  return () => observer.disconnect();
}
