// What was dropped on the page: files, and folders walked whole (the File and Directory
// Entries API: `webkitGetAsEntry`, then each directory's reader until it answers nothing),
// every file with its path below the drop, so `scans/2026/a.pdf` dropped into `reports/`
// becomes `reports/scans/2026/a.pdf`.

/** Most files one drop may queue: a folder dropped by mistake should not start 1,000,000
 * uploads. */
const MAX_FILES = 10000;

/** `[{file, path}]` for everything in `dataTransfer`. */
export async function droppedFiles(dataTransfer) {
  // The entries must be taken now: the DataTransfer is emptied once the event returns.
  const entries = [...dataTransfer.items]
    .filter((item) => item.kind === "file")
    .map((item) => (item.webkitGetAsEntry ? item.webkitGetAsEntry() : null));
  if (entries.length === 0 || entries.some((e) => e === null)) {
    // No entries (an old browser, or files a script made): the plain file list.
    return [...dataTransfer.files].map((file) => ({ file, path: file.name }));
  }
  const out = [];
  for (const entry of entries) await walk(entry, out);
  return out;
}

async function walk(entry, out) {
  if (out.length >= MAX_FILES) return;
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
    out.push({ file, path: entry.fullPath.replace(/^\/+/, "") });
  } else if (entry.isDirectory) {
    const reader = entry.createReader();
    // A reader answers in batches (100 at a time in Chromium) until an empty one.
    for (;;) {
      const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
      if (batch.length === 0) break;
      for (const child of batch) await walk(child, out);
    }
  }
}
