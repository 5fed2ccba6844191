// A grid of files: a tile per file with its thumbnail (fetched only once the tile is near
// the viewport), name, size and status; folders as tiles first. The same interface as the
// table (`table.js`), so the folder view pages, selects and follows uploads the same way in
// either.

import { h, hidden, icon, replace } from "../dom.js";
import { kind, size, statusCell } from "../format.js";
import { fileUrl } from "../router.js";
import { hasThumbnail, lazyThumbnails } from "../thumbs.js";

/** `fileGrid({selectable, caption, onSelect, signal})`: see `fileTable`. */
export function fileGrid({ selectable, caption, onSelect, signal }) {
  const selection = new Set();
  const thumbs = lazyThumbnails(signal);
  let pending = null;
  const list = h("ul", { class: "grid", "aria-label": caption });

  function tile(file) {
    const picture = hasThumbnail(file)
      ? thumbs.image(file, `Thumbnail of ${file.name}`)
      : h("span", { class: "thumb none" }, icon((file.content_type || "").startsWith("image/") ? "image" : "file"));
    const li = h("li", { dataset: { id: file.id, name: file.name, status: file.status } });
    if (selectable) {
      const box = h("input", {
        type: "checkbox",
        class: "pick",
        dataset: { id: file.id },
        "aria-label": `Select ${file.name}`,
        checked: selection.has(file.id),
        onchange: () => {
          if (box.checked) selection.add(file.id);
          else selection.delete(file.id);
          li.classList.toggle("selected", box.checked);
          onSelect && onSelect([...selection]);
        },
      });
      li.append(box);
      li.classList.toggle("selected", selection.has(file.id));
    }
    li.append(
      h("a", { href: fileUrl(file.id), class: "tile" }, picture, h("span", { class: "label" }, file.name)),
      h("div", { class: "where" }, `${size(file.size)} · ${kind(file.content_type)}`),
      h("div", { class: "status" }, statusCell(file)),
    );
    return li;
  }

  const find = (id) => list.querySelector(`li[data-id="${CSS.escape(id)}"]`);

  return {
    element: h("div", { class: "grid-wrap" }, list),
    add(files) {
      for (const file of files) if (!find(file.id)) list.append(tile(file));
    },
    addFolder(href, f) {
      list.append(
        h(
          "li",
          { class: "folder", dataset: { folder: f.prefix } },
          h("a", { href, class: "tile" }, h("span", { class: "thumb none" }, icon("folder")), h("span", { class: "label" }, f.name, hidden(", folder"))),
        ),
      );
    },
    has: (id) => find(id) !== null,
    setLoading(loading) {
      clearTimeout(pending);
      list.querySelectorAll("li.placeholder").forEach((li) => li.remove());
      if (loading) {
        pending = setTimeout(() => list.append(...Array.from({ length: 4 }, () => h("li", { class: "placeholder", "aria-hidden": "true" }))), 150);
      }
      list.setAttribute("aria-busy", String(loading));
    },
    update(file) {
      const old = find(file.id);
      if (old) old.replaceWith(tile(file));
    },
    remove(id) {
      const li = find(id);
      if (li) li.remove();
      selection.delete(id);
    },
    selected: () => [...selection],
    clear() {
      selection.clear();
      replace(list);
    },
    isEmpty: () => list.querySelector("li:not(.placeholder)") === null,
    stop: () => thumbs.stop(),
  };
}
