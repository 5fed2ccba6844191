// The URL is the state: every view has its own address, so back, forward, reload and
// bookmarks work.
//
//   /app/                          the buckets
//   /app/b/{bucket}/{folder/…/}    a folder (?sort=name|-size|…)
//   /app/f/{file id}               a file's panel
//   /app/deleted?bucket=…          deleted files, to restore
//   /app/search?q=…&type=…&bucket=… search results
//   /app/admin/{section}?…         the admin pages (buckets, keys, webhooks, usage, audit)
//   /app/auth/callback?code=…      where the identity provider sends the browser back

const listeners = new Set();

/** The view the current URL names. */
export function current() {
  return parse(location.pathname, new URLSearchParams(location.search));
}

export function parse(pathname, params) {
  const parts = pathname.split("/").slice(1);
  if (parts[0] !== "app") return { view: "home", params };
  const [, kind, ...rest] = parts;
  const decode = (s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  if (kind === "b" && rest.length > 0 && rest[0] !== "") {
    const bucket = decode(rest[0]);
    const segments = rest.slice(1).filter((s) => s !== "").map(decode);
    const folder = segments.length ? segments.join("/") + "/" : "";
    return { view: "folder", bucket, folder, params };
  }
  if (kind === "f" && rest[0]) return { view: "file", id: decode(rest[0]), params };
  if (kind === "deleted") return { view: "deleted", params };
  if (kind === "search") return { view: "search", params };
  if (kind === "admin") return { view: "admin", section: decode(rest[0] || ""), params };
  return { view: "home", params };
}

/** The address of a folder. */
export function folderUrl(bucket, folder = "", params) {
  const segments = folder.split("/").filter((s) => s !== "").map(encodeURIComponent);
  const path = ["/app/b", encodeURIComponent(bucket), ...segments].join("/") + "/";
  return withParams(path, params);
}

export function fileUrl(id) {
  return `/app/f/${encodeURIComponent(id)}`;
}

export function searchUrl(params) {
  return withParams("/app/search", params);
}

export function adminUrl(section, params) {
  return withParams(`/app/admin/${encodeURIComponent(section)}`, params);
}

export function deletedUrl(params) {
  return withParams("/app/deleted", params);
}

function withParams(path, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") query.set(key, value);
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

/** Goes to `url` inside the app (a new history entry unless `replace`). */
export function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  notify();
}

export function onNavigate(listener) {
  listeners.add(listener);
}

function notify() {
  for (const listener of listeners) listener(current());
}

/** Links inside the app change the view without loading the page again. */
export function start() {
  addEventListener("popstate", notify);
  document.addEventListener("click", (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
      return;
    }
    const link = event.target.closest("a[href]");
    if (!link || link.target || link.hasAttribute("download")) return;
    const url = new URL(link.href, location.href);
    if (url.origin !== location.origin || !url.pathname.startsWith("/app")) return;
    event.preventDefault();
    navigate(url.pathname + url.search);
  });
}
