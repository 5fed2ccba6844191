// Thumbnails (`GET /v1/files/{id}/thumbnail`, made by the pipeline's `thumbnail` stage). The
// route wants the bearer credential, which an <img src> cannot send: the bytes are fetched
// and shown through a blob: URL. In a grid they load only once their tile is near the
// viewport, a few at a time, so a folder of 10,000 pictures lists at once and fetches only
// what is seen; the blob URLs are released when the view goes.

import { route } from "./api.js";
import { h } from "./dom.js";
import { credential } from "./session.js";

const AT_ONCE = 6;

/** The thumbnail's bytes as a blob: URL (the caller revokes it), or null when there is none. */
export async function thumbnailUrl(id, size, signal) {
  const response = await fetch(route`/v1/files/${id}/thumbnail` + `?size=${size}`, {
    headers: { Authorization: `Bearer ${credential()}` },
    credentials: "omit",
    signal,
  });
  if (!response.ok) return null;
  return URL.createObjectURL(await response.blob());
}

/** Whether the pipeline made a thumbnail of `file` that can be shown now. */
export function hasThumbnail(file) {
  return file.status === "ready" && Boolean(file.processing && file.processing.thumbnails && file.processing.thumbnails.length);
}

/**
 * `lazyThumbnails(signal)`: `{image(file, alt)}` makes an <img> that fetches its thumbnail
 * once it scrolls near the viewport; `stop()` ends the observer and frees every blob URL.
 */
export function lazyThumbnails(signal) {
  const urls = [];
  const waiting = [];
  let running = 0;

  function pump() {
    while (running < AT_ONCE && waiting.length && !signal.aborted) {
      const [img, id] = waiting.shift();
      running += 1;
      thumbnailUrl(id, 256, signal)
        .then((url) => {
          if (!url) return;
          urls.push(url);
          img.src = url;
        })
        .catch(() => {})
        .finally(() => {
          running -= 1;
          img.dataset.loaded = "true";
          pump();
        });
    }
  }

  const observer = new IntersectionObserver(
    (entries) => {
      for (const entry of entries) {
        if (!entry.isIntersecting) continue;
        observer.unobserve(entry.target);
        waiting.push([entry.target, entry.target.dataset.thumb]);
      }
      pump();
    },
    { rootMargin: "200px" },
  );

  return {
    image(file, alt) {
      const img = h("img", { class: "thumb", alt, width: "160", height: "120", dataset: { thumb: file.id } });
      observer.observe(img);
      return img;
    },
    stop() {
      observer.disconnect();
      waiting.length = 0;
      for (const url of urls) URL.revokeObjectURL(url);
    },
  };
}
