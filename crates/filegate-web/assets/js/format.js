// Numbers, dates and statuses as people read them.

import { h } from "./dom.js";

const UNITS = ["KB", "MB", "GB", "TB", "PB"];

/** `18233` → `17.8 KB` (1024-based, as file managers show it). */
export function size(bytes) {
  if (bytes === null || bytes === undefined) return "";
  if (bytes < 1024) return `${bytes} B`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${UNITS[unit]}`;
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dayFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });

export function date(iso) {
  return iso ? dateFormat.format(new Date(iso)) : "";
}

export function day(value) {
  return value ? dayFormat.format(value instanceof Date ? value : new Date(value)) : "";
}

/** A `<time>` with the full timestamp for assistive technology and hover. */
export function time(iso) {
  return iso ? h("time", { datetime: iso, title: iso }, date(iso)) : "";
}

const STATUS = {
  pending: "Waiting for upload",
  uploaded: "Uploaded",
  processing: "Processing",
  ready: "Ready",
  quarantined: "Quarantined",
  failed: "Failed",
  expired: "Expired",
  deleted: "Deleted",
  purged: "Purged",
};

export function statusLabel(status) {
  return STATUS[status] || status;
}

/** Still moving: the pipeline has not said its last word. */
export function settling(status) {
  return status === "pending" || status === "uploaded" || status === "processing";
}

/** A badge with the status in words (and its colour); the reason in its title. */
export function badge(status, reason) {
  return h("span", { class: `badge ${status}`, title: reason || false }, statusLabel(status));
}

/** The badge, and for a file the pipeline refused (failed, quarantined) its reason in words
 * beside it: the reason is what a person needs to act on, so it is shown, not hidden in a
 * tooltip. */
export function statusCell(file) {
  const refused = file.status === "failed" || file.status === "quarantined";
  return [
    badge(file.status, file.status_reason),
    refused && file.status_reason ? h("span", { class: "reason" }, file.status_reason) : null,
  ];
}

/** The type as people say it: `PDF`, `PNG image`, the essence otherwise. */
export function kind(contentType) {
  const essence = (contentType || "").split(";")[0].trim();
  const known = {
    "application/pdf": "PDF",
    "text/plain": "Text",
    "text/csv": "CSV",
    "application/zip": "Zip",
    "application/json": "JSON",
    "application/octet-stream": "Binary",
  };
  if (known[essence]) return known[essence];
  const [family, sub] = essence.split("/");
  if (family === "image" && sub) return `${sub.toUpperCase()} image`;
  return essence;
}
