// Uploads, each straight to its signed URL: `POST /v1/uploads`, then one PUT (or, for a
// large file, its parts in parallel), then `complete`, then the status followed until the
// pipeline's verdict. The bytes never pass through this page's origin unless the storage
// is filegate's own directory. A few files move at once; the rest wait their turn.
// A multipart upload interrupted by a reload is offered again (`resume.js` keeps what it
// needs): once the person picks the same file, only the parts not yet stored are sent.

import { ApiError, del, get, post, route } from "./api.js";
import { settling } from "./format.js";
import { forget, interrupted, remember, sameFile, stored } from "./resume.js";

const FILES_AT_ONCE = 3;
const PARTS_AT_ONCE = 4;
const listeners = new Set();
const queue = [];
let nextId = 1;

/** An upload's life: queued → sending → completing → following → done | failed | cancelled;
 * after a reload, interrupted → queued (the file picked again) or cancelled. */
export function uploads() {
  return queue;
}

/** Calls `listener(item)` on every change (`null`: the list itself changed); returns a
 * function that stops it. */
export function onChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function changed(item) {
  for (const listener of listeners) listener(item);
}

function newItem(file, bucket, path, state) {
  return {
    key: nextId++,
    file,
    bucket,
    path,
    state,
    sent: 0,
    status: null,
    reason: null,
    fileId: null,
    error: null,
    requests: new Set(),
    started: 0,
    resume: null,
  };
}

/** Queues `files` for `bucket` under `folder` (empty or ending with `/`): File objects (a
 * folder picked with the input keeps its `webkitRelativePath`) or `{file, path}` with the
 * path below `folder` (a dropped folder's files). */
export function enqueue(files, bucket, folder) {
  for (const entry of files) {
    const file = entry instanceof File ? entry : entry.file;
    const relative = entry instanceof File ? file.webkitRelativePath || file.name : entry.path;
    queue.push(newItem(file, bucket, folder + relative, "queued"));
  }
  changed(null);
  pump();
}

/** Offers the multipart uploads a reload interrupted that the server still waits for. */
export async function offerInterrupted() {
  for (const journal of interrupted()) {
    if (queue.some((i) => i.fileId === journal.fileId)) continue;
    const status = await get(route`/v1/files/${journal.fileId}/status`).catch(() => null);
    if (!status || status.status !== "pending") {
      forget(journal.fileId);
      continue;
    }
    // Until the file is picked again, a stand-in with its name and size.
    const item = newItem({ name: journal.name, size: journal.size }, journal.bucket, journal.path, "interrupted");
    item.fileId = journal.fileId;
    item.resume = journal;
    item.sent = Object.keys(journal.parts).length * journal.partSize;
    queue.push(item);
  }
  changed(null);
}

/** Goes on with an interrupted upload once `file` is picked again; false when it is
 * another file than the one that was being sent. */
export function resumeWith(item, file) {
  if (item.state !== "interrupted" || !sameFile(item.resume, file)) return false;
  item.file = file;
  item.state = "queued";
  changed(item);
  pump();
  return true;
}

function pump() {
  const moving = queue.filter((i) => i.state === "sending" || i.state === "completing").length;
  const waiting = queue.filter((i) => i.state === "queued");
  for (const item of waiting.slice(0, Math.max(0, FILES_AT_ONCE - moving))) {
    run(item);
  }
}

async function run(item) {
  item.state = "sending";
  item.started = performance.now();
  changed(item);
  try {
    const created = item.resume ? resumed(item.resume) : await post("/v1/uploads", {
      bucket: item.bucket,
      path: item.path,
      size: item.file.size,
      content_type: item.file.type || "application/octet-stream",
    });
    item.fileId = created.file_id;
    item.status = created.status;
    let completion = {};
    if (created.deduplicated) {
      item.sent = item.file.size;
    } else if (created.upload.method === "PUT") {
      const etag = await put(item, created.upload.url, created.upload.headers, item.file, (n) => (item.sent = n));
      completion = { size: item.file.size, etag };
    } else if (created.upload.method === "multipart") {
      if (!item.resume) remember(item, created.upload, created.expires_at);
      completion = { size: item.file.size, parts: await multipart(item, created.upload) };
    } else {
      throw new ApiError(0, "unsupported", "The server asked for an upload method this page does not know.", null);
    }
    if (item.state === "cancelled") return;
    item.state = "completing";
    changed(item);
    if (!created.deduplicated) {
      const file = await post(route`/v1/uploads/${item.fileId}/complete`, completion);
      item.status = file.status;
      item.reason = file.status_reason;
    }
    forget(item.fileId);
    item.state = "following";
    changed(item);
    pump();
    await follow(item);
  } catch (error) {
    if (item.state === "cancelled") return;
    item.state = "failed";
    item.error = error;
    // Refused (4xx): resuming would be refused too. Anything else (the connection, the
    // server busy) may be resumed after a reload.
    if (error.status >= 400 && error.status < 500) forget(item.fileId);
    changed(item);
  } finally {
    pump();
  }
}

/** One PUT with progress; resolves to the ETag the store answered. */
function put(item, url, headers, body, progress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    item.requests.add(xhr);
    xhr.open("PUT", url);
    for (const [key, value] of Object.entries(headers || {})) xhr.setRequestHeader(key, value);
    xhr.upload.addEventListener("progress", (e) => {
      progress(e.loaded);
      changed(item);
    });
    xhr.addEventListener("load", () => {
      item.requests.delete(xhr);
      if (xhr.status >= 200 && xhr.status < 300) {
        progress(body.size);
        resolve(xhr.getResponseHeader("etag"));
      } else {
        let error = null;
        try {
          error = JSON.parse(xhr.responseText).error;
        } catch {
          error = null;
        }
        reject(
          new ApiError(
            xhr.status,
            error ? error.code : "upload-refused",
            error ? error.message : `The storage refused the bytes (${xhr.status})`,
            (error && error.request_id) || xhr.getResponseHeader("x-request-id"),
          ),
        );
      }
    });
    xhr.addEventListener("error", () => {
      item.requests.delete(xhr);
      reject(new ApiError(0, "unreachable", "The connection broke while sending", null));
    });
    xhr.addEventListener("abort", () => {
      item.requests.delete(xhr);
      reject(new DOMException("cancelled", "AbortError"));
    });
    xhr.send(body);
  });
}

/** A resumed upload's instructions: the parts it has, no URL (they are asked for again). */
function resumed(journal) {
  return {
    file_id: journal.fileId,
    status: "pending",
    upload: { method: "multipart", part_size: journal.partSize, part_count: journal.partCount, parts: [] },
  };
}

/** The parts of a multipart upload, a few at once; more part URLs asked for as needed. The
 * parts a resumed upload already stored are not sent again. */
async function multipart(item, upload) {
  const urls = new Map(upload.parts.map((p) => [p.number, p.url]));
  const size = upload.part_size;
  const have = item.resume ? item.resume.parts : {};
  const done = Object.entries(have).map(([number, etag]) => ({ number: Number(number), etag }));
  const sentByPart = new Map(done.map((p) => [p.number, Math.min(size, item.file.size - (p.number - 1) * size)]));
  const numbers = Array.from({ length: upload.part_count }, (_, i) => i + 1).filter((n) => !(n in have));
  // URLs missing (past the first 1,000 parts, or every one after a resume) are asked for
  // 100 at a time, one request shared by the workers waiting on it.
  let asking = null;
  async function ask(wanted) {
    const more = await post(route`/v1/uploads/${item.fileId}/parts`, { numbers: wanted });
    for (const p of more.parts) urls.set(p.number, p.url);
  }
  async function urlFor(number) {
    if (!urls.has(number)) {
      if (!asking) {
        const wanted = [number, ...numbers.filter((n) => !urls.has(n))].slice(0, 100);
        asking = ask(wanted).finally(() => (asking = null));
      }
      await asking;
      // Another worker's request did not name this part: ask for it alone.
      if (!urls.has(number)) await ask([number]);
    }
    return urls.get(number);
  }
  async function worker() {
    while (numbers.length && item.state !== "cancelled") {
      const number = numbers.shift();
      const slice = item.file.slice((number - 1) * size, Math.min(item.file.size, number * size));
      const url = await urlFor(number);
      const etag = await put(item, url, {}, slice, (n) => {
        sentByPart.set(number, n);
        item.sent = [...sentByPart.values()].reduce((a, b) => a + b, 0);
      });
      done.push({ number, etag });
      stored(item.fileId, number, etag);
    }
  }
  await Promise.all(Array.from({ length: PARTS_AT_ONCE }, worker));
  return done.sort((a, b) => a.number - b.number);
}

/** Polls the status until the pipeline has decided: ready, or the reason it is not. */
async function follow(item) {
  let wait = 300;
  while (settling(item.status) && item.state === "following") {
    await new Promise((r) => setTimeout(r, wait));
    wait = Math.min(wait * 1.5, 3000);
    const status = await get(route`/v1/files/${item.fileId}/status`);
    if (status.status !== item.status) {
      item.status = status.status;
      item.reason = status.status_reason;
      changed(item);
    }
  }
  if (item.state === "following") {
    item.state = "done";
    changed(item);
  }
}

/** Stops an upload: the transfer is aborted and the pending file removed. */
export async function cancel(item) {
  if (item.state === "done" || item.state === "failed" || item.state === "cancelled") return;
  const wasSending = ["sending", "queued", "interrupted"].includes(item.state);
  item.state = "cancelled";
  for (const xhr of item.requests) xhr.abort();
  changed(item);
  if (wasSending && item.fileId) {
    forget(item.fileId);
    await del(route`/v1/uploads/${item.fileId}`).catch(() => {});
  }
  pump();
}

export function cancelAll() {
  for (const item of [...queue]) cancel(item);
}

/** Forgets the uploads that have ended. */
export function clearFinished() {
  for (let i = queue.length - 1; i >= 0; i--) {
    if (["done", "failed", "cancelled"].includes(queue[i].state)) queue.splice(i, 1);
  }
  changed(null);
}
