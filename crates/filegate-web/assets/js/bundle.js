// Zip bundles (`POST /v1/archives`): files as one zip, built by the workers; followed until
// it is ready, then downloaded through its signed URL. A selection gives its ids; a whole
// search (seed 001's "download all") first gathers its ready hits page by page, within the
// deployment's limits (`GET /v1/me` → `limits`), so a bundle that would be refused is never
// asked for.

import { ApiError, get, post, route } from "./api.js";
import { h } from "./dom.js";
import { size } from "./format.js";
import { whoami } from "./session.js";

const plural = (n, word) => `${n.toLocaleString()} ${word}${n === 1 ? "" : "s"}`;

/** Builds a zip of `ids` and waits until it is ready; `progress(text)` hears how it goes. */
export async function makeZip(ids, progress) {
  progress(`Making a zip of ${plural(ids.length, "file")}…`);
  let archive = await post("/v1/archives", { file_ids: ids });
  let wait = 300;
  while (archive.status === "pending") {
    await new Promise((r) => setTimeout(r, wait));
    wait = Math.min(wait * 1.5, 2000);
    archive = await get(route`/v1/archives/${archive.id}`);
  }
  if (archive.status !== "ready" || !archive.url) {
    throw new ApiError(0, "archive-failed", archive.error || `The zip could not be made (${archive.status})`, null);
  }
  return archive;
}

/** Builds a zip of `ids` and starts its download. */
export async function downloadZip(ids, progress) {
  const archive = await makeZip(ids, progress);
  const a = h("a", { href: archive.url, download: "", hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  progress(`The zip of ${plural(archive.file_count, "file")} is downloading.`);
  return archive;
}

/**
 * The ids of every ready file a search finds (`query`: its `q` and filters), page by page,
 * or a refusal in words when they are more than one bundle may hold.
 */
export async function gatherSearch(query, progress, signal) {
  const limits = (whoami() && whoami().limits) || {};
  const maxFiles = limits.archive_max_files || Infinity;
  const maxBytes = limits.archive_max_bytes || Infinity;
  const ids = [];
  let bytes = 0;
  let cursor;
  do {
    const page = await get("/v1/search", { ...query, status: "ready", sort: "created_at", limit: 100, cursor }, { signal });
    if (page.total > maxFiles) {
      throw new ApiError(0, "archive-too-large", `This search finds ${plural(page.total, "ready file")}; one zip holds at most ${maxFiles.toLocaleString()}. Narrow the search`, null);
    }
    for (const hit of page.items) {
      ids.push(hit.file.id);
      bytes += hit.file.size;
    }
    if (bytes > maxBytes) {
      throw new ApiError(0, "archive-too-large", `These files are more than the ${size(maxBytes)} one zip may hold. Narrow the search`, null);
    }
    progress(`Gathering the results: ${ids.length.toLocaleString()} of ${page.total.toLocaleString()}…`);
    cursor = page.next_cursor;
  } while (cursor);
  if (ids.length === 0) throw new ApiError(0, "archive-empty", "None of these results is ready to download", null);
  return ids;
}
