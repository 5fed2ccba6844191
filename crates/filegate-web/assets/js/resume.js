// What a multipart upload needs to go on after a page reload, kept in this tab's session
// storage: the pending file's id, where it goes, which local file it was (name, size, last
// modified) and the etag of every part already stored. No credential and no signed URL is
// written here (part URLs are asked for again, with the credential, when the upload
// resumes); the tab's next sign-in by someone else sees none of it. The same idea as the
// CLI's resume journal (`filegate-client/src/resume.rs`), which keeps the etags beside the
// file: the etags are what `complete` needs, so no call lists the parts already stored.

import { whoami } from "./session.js";

const KEY = "filegate.uploads";

function owner() {
  const me = whoami();
  return me ? `${me.tenant}/${me.subject}` : "";
}

function read() {
  try {
    const all = JSON.parse(sessionStorage.getItem(KEY) || "[]");
    return Array.isArray(all) ? all : [];
  } catch {
    return [];
  }
}

function write(all) {
  try {
    if (all.length) sessionStorage.setItem(KEY, JSON.stringify(all));
    else sessionStorage.removeItem(KEY);
  } catch {
    // Storage full or refused: the upload goes on; only its resume is lost.
  }
}

/** Starts the journal of a multipart upload. */
export function remember(item, upload, expiresAt) {
  const all = read().filter((j) => j.fileId !== item.fileId);
  all.push({
    owner: owner(),
    fileId: item.fileId,
    bucket: item.bucket,
    path: item.path,
    name: item.file.name,
    size: item.file.size,
    lastModified: item.file.lastModified,
    type: item.file.type,
    partSize: upload.part_size,
    partCount: upload.part_count,
    expiresAt,
    parts: {},
  });
  write(all);
}

/** Records a stored part. */
export function stored(fileId, number, etag) {
  const all = read();
  const journal = all.find((j) => j.fileId === fileId);
  if (!journal) return;
  journal.parts[number] = etag;
  write(all);
}

/** Forgets an upload (completed, cancelled or refused). */
export function forget(fileId) {
  write(read().filter((j) => j.fileId !== fileId));
}

/** The interrupted uploads of whoever is signed in, still within their time. */
export function interrupted() {
  const now = Date.now();
  const mine = owner();
  return read().filter((j) => j.owner === mine && Date.parse(j.expiresAt) > now);
}

/** Forgets everything (sign out: the next person in this tab sees none of it). */
export function forgetAll() {
  write([]);
}

/** Whether `file` (picked again after the reload) is the one the journal was about. */
export function sameFile(journal, file) {
  return file.name === journal.name && file.size === journal.size && file.lastModified === journal.lastModified;
}
