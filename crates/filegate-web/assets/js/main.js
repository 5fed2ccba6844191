// The web app's entry: sign-in when there is no credential, then the view the URL names,
// rendered again on every navigation. Keyboard: `/` focuses the search, `u` uploads into
// the folder shown, Delete asks to delete the selected files. Files and folders dropped
// anywhere on a folder view are uploaded into it (folders whole, their paths kept).

import { get } from "./api.js";
import { h, replace } from "./dom.js";
import { clearMessages, errorNotice, setRegion } from "./errors.js";
import { current, navigate, onNavigate, start } from "./router.js";
import { credential, may, onSignOut, remember, whoami } from "./session.js";
import { droppedFiles } from "./drop.js";
import { CALLBACK, finishSignIn } from "./oidc.js";
import { forgetAll } from "./resume.js";
import { cancelAll, clearFinished, enqueue, offerInterrupted } from "./upload.js";
import { renderFolder } from "./views/browse.js";
import { renderAdmin } from "./views/admin/index.js";
import { renderDeleted } from "./views/deleted.js";
import { renderFile } from "./views/file.js";
import { renderHome } from "./views/home.js";
import { highlight, layout, teardown } from "./views/layout.js";
import { renderSearch } from "./views/search.js";
import { acceptToken, renderSignIn } from "./views/signin.js";
import { startTray } from "./views/tray.js";

const VIEWS = {
  home: renderHome,
  folder: renderFolder,
  file: renderFile,
  deleted: renderDeleted,
  search: renderSearch,
  admin: renderAdmin,
};

const TITLES = {
  home: () => "Buckets",
  folder: (r) => `${r.bucket}/${r.folder}`,
  file: () => "File",
  deleted: () => "Deleted files",
  search: (r) => `Search: ${r.params.get("q") || ""}`,
  admin: () => "Administration",
};

let stopView = null;
let controller = null;

async function boot() {
  start();
  startTray();
  if (location.pathname === "/" || location.pathname === "/app") navigate("/app/", { replace: true });
  onNavigate(render);
  if (location.pathname === CALLBACK) return finishProvider();
  onSignOut((reason) => {
    // The next person to sign in in this tab sees none of these uploads.
    cancelAll();
    clearFinished();
    forgetAll();
    teardown();
    showSignIn(reason.expired);
  });
  if (!credential()) return showSignIn();
  try {
    const [me, buckets] = await Promise.all([get("/v1/me"), get("/v1/buckets").catch(() => ({ items: [] }))]);
    remember(me, buckets.items);
  } catch (error) {
    // A 401 signed us out already (and showed the form); anything else is shown here.
    if (error.status !== 401) replace(document.getElementById("main"), errorNotice(error, "Starting"));
    return;
  }
  signedIn();
}

/** Back from the identity provider: the code becomes a token (or the refusal a sentence),
 * and the address bar loses the code at once. */
async function finishProvider() {
  const params = new URLSearchParams(location.search);
  history.replaceState(null, "", "/app/");
  try {
    const { token, back } = await finishSignIn(params);
    await acceptToken(token);
    history.replaceState(null, "", back);
    signedIn();
  } catch (error) {
    if (error.back) history.replaceState(null, "", error.back);
    showSignIn(error);
  }
}

/** Once someone is signed in: their view, and the uploads a reload interrupted. */
function signedIn() {
  render(current());
  if (may("upload")) offerInterrupted();
}

function showSignIn(expired) {
  stop();
  document.title = "Sign in · filegate";
  renderSignIn(document.getElementById("main"), signedIn, { expired });
}

function stop() {
  if (stopView) stopView();
  if (controller) controller.abort();
  stopView = null;
  controller = null;
}

function render(route) {
  if (!whoami()) return;
  stop();
  const frame = layout();
  highlight(route);
  frame.search.sync(route);
  controller = new AbortController();
  const messages = h("div", { class: "messages", "aria-live": "polite" });
  const view = h("div", { class: "view" });
  replace(frame.main, messages, view);
  setRegion(messages);
  document.title = `${TITLES[route.view](route)} · filegate`;
  const result = VIEWS[route.view](view, route, { signal: controller.signal });
  stopView = typeof result === "function" ? result : null;
  // The link that was followed is gone: the new view gets the focus (so that a screen
  // reader starts there), unless the person is typing in the header's search box.
  if (!frame.top.contains(document.activeElement)) {
    window.scrollTo(0, 0);
    frame.main.focus({ preventScroll: true });
  }
}

function typing(target) {
  return target.closest("input, textarea, select, [contenteditable], dialog");
}

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target) || !whoami()) return;
  if (event.key === "/") {
    event.preventDefault();
    document.getElementById("search")?.focus();
  } else if (event.key === "u" && current().view === "folder" && may("upload")) {
    event.preventDefault();
    document.getElementById("upload-input")?.click();
  } else if (event.key === "Escape") {
    clearMessages();
  }
});

// Drop files anywhere on a folder view.
document.addEventListener("dragover", (event) => {
  if (current().view !== "folder" || !may("upload") || !event.dataTransfer.types.includes("Files")) return;
  event.preventDefault();
  document.body.classList.add("dropping");
});
document.addEventListener("dragleave", (event) => {
  if (event.relatedTarget === null) document.body.classList.remove("dropping");
});
document.addEventListener("drop", async (event) => {
  document.body.classList.remove("dropping");
  const route = current();
  if (route.view !== "folder" || !may("upload") || !event.dataTransfer.types.includes("Files")) return;
  event.preventDefault();
  enqueue(await droppedFiles(event.dataTransfer), route.bucket, route.folder);
});

boot();
