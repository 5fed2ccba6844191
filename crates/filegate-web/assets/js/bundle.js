// Zip bundles (`POST /v1/archives`): the selected files as one zip, built by the workers;
// followed until it is ready, then downloaded through its signed URL.

import { ApiError, get, post, route } from "./api.js";
import { h } from "./dom.js";

/** Builds a zip of `ids` and starts its download; `progress(text)` hears how it goes. */
export async function downloadZip(ids, progress) {
  progress(`Making a zip of ${ids.length} file${ids.length === 1 ? "" : "s"}…`);
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
  const a = h("a", { href: archive.url, download: "", hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  progress(`The zip of ${archive.file_count} file${archive.file_count === 1 ? "" : "s"} is downloading.`);
  return archive;
}
