// The upload tray: every file with its own progress bar and speed, then its pipeline status
// (uploaded → processing → ready, or the reason), a total, and cancel per file and for all.
// Once every upload has ended it folds down to its total, so that it covers nothing; Show
// opens it again (and a new upload does). An upload a reload interrupted asks for its file
// again (a page cannot reopen a file by itself) and then goes on where it stopped.

import { filePicker, h, replace } from "../dom.js";
import { describe } from "../errors.js";
import { size, statusLabel } from "../format.js";
import { cancel, cancelAll, clearFinished, onChange, resumeWith, uploads } from "../upload.js";

let tray = null;
const rows = new Map();
/** The person chose Show or Hide since the last new upload: leave it as they chose. */
let chosen = false;
const ENDED = ["done", "failed", "cancelled"];

export function startTray() {
  onChange((item) => render(item));
}

function ensure() {
  if (tray) return tray;
  const title = h("h2", { id: "tray-title" }, "Uploads");
  const total = h("progress", { max: "1", value: "0", "aria-labelledby": "tray-title" });
  const summary = h("p", { class: "hint", "aria-live": "polite" });
  const list = h("ul", { "aria-labelledby": "tray-title" });
  const toggle = h("button", { type: "button", class: "small", "aria-expanded": "true" }, "Hide");
  const root = h(
    "section",
    { class: "tray", "aria-labelledby": "tray-title" },
    h(
      "header",
      {},
      title,
      toggle,
      h("button", { type: "button", class: "small", onclick: () => cancelAll() }, "Cancel all"),
      h("button", { type: "button", class: "small", onclick: () => clearFinished() }, "Clear"),
    ),
    h("div", { class: "total" }, total, summary),
    list,
  );
  toggle.addEventListener("click", () => {
    chosen = true;
    fold(!root.classList.contains("collapsed"));
  });
  document.body.append(root);
  tray = { root, total, summary, list, toggle };
  return tray;
}

function fold(collapsed) {
  tray.root.classList.toggle("collapsed", collapsed);
  tray.toggle.textContent = collapsed ? "Show" : "Hide";
  tray.toggle.setAttribute("aria-expanded", String(!collapsed));
}

function render(item) {
  const all = uploads();
  if (all.length === 0) {
    if (tray) tray.root.remove();
    tray = null;
    rows.clear();
    return;
  }
  const t = ensure();
  for (const [key, row] of rows) {
    if (!all.some((i) => i.key === key)) {
      row.li.remove();
      rows.delete(key);
    }
  }
  for (const i of all) {
    if (!rows.has(i.key)) {
      const row = makeRow(i);
      rows.set(i.key, row);
      t.list.append(row.li);
      chosen = false;
    }
  }
  const changed = item ? [item] : all;
  for (const i of changed) update(rows.get(i.key), i);

  const bytes = all.reduce((sum, i) => sum + i.file.size, 0);
  const sent = all.reduce((sum, i) => sum + Math.min(i.sent, i.file.size), 0);
  t.total.value = bytes ? sent / bytes : 1;
  const finished = all.filter((i) => i.state === "done").length;
  const failed = all.filter((i) => i.state === "failed").length;
  t.summary.textContent =
    `${finished} of ${all.length} ready` + (failed ? `, ${failed} failed` : "") + ` · ${size(sent)} of ${size(bytes)} sent`;
  if (!chosen) fold(all.every((i) => ENDED.includes(i.state)));
}

function makeRow(item) {
  const bar = h("progress", { max: String(item.file.size || 1), value: "0", "aria-label": `Progress of ${item.path}` });
  const text = h("span", { class: "state" });
  const button = h("button", { type: "button", class: "small", onclick: () => cancel(item) }, "Cancel");
  const picker = filePicker({ dataset: { resume: item.fileId || "" } }, ([file]) => {
    if (!resumeWith(item, file)) {
      replace(text, `${file.name} is not the file that was being sent (${item.file.name}, ${size(item.file.size)}). Choose that one.`);
    }
  });
  const resume = h("button", { type: "button", class: "small primary", hidden: true, onclick: () => picker.click() }, "Resume…");
  const li = h(
    "li",
    { dataset: { path: item.path } },
    h("div", { class: "name" }, item.path),
    bar,
    h("div", { class: "line" }, text, h("span", { class: "spacer" }), picker, resume, button),
  );
  return { li, bar, text, button, resume };
}

function update(row, item) {
  if (!row) return;
  row.bar.value = Math.min(item.sent, item.file.size || 1);
  row.li.dataset.state = item.state;
  row.li.dataset.status = item.status || "";
  let words;
  switch (item.state) {
    case "interrupted": {
      const have = Object.keys(item.resume.parts).length;
      words = `Interrupted: ${have} of ${item.resume.partCount} parts stored. Choose the same file to go on.`;
      break;
    }
    case "queued":
      words = "Waiting";
      break;
    case "sending": {
      const seconds = (performance.now() - item.started) / 1000;
      const speed = seconds > 0.5 ? ` · ${size(item.sent / seconds)}/s` : "";
      const resumed = item.resume ? ` (resumed: ${Object.keys(item.resume.parts).length} parts were already stored)` : "";
      words = `Sending ${size(item.sent)} of ${size(item.file.size)}${speed}${resumed}`;
      break;
    }
    case "completing":
      words = "Checking what arrived";
      break;
    case "following":
    case "done":
      words = statusLabel(item.status) + (item.reason ? `: ${item.reason}` : "");
      break;
    case "failed":
      words = describe(item.error);
      break;
    case "cancelled":
      words = "Cancelled";
      break;
    default:
      words = item.state;
  }
  replace(row.text, words);
  row.li.dataset.resumed = item.resume ? String(Object.keys(item.resume.parts).length) : "";
  row.resume.hidden = item.state !== "interrupted";
  row.button.hidden = !["interrupted", "queued", "sending", "completing", "following"].includes(item.state);
}
