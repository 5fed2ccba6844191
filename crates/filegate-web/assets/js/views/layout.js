// The frame around every view once signed in: the header (search, who, sign out), the
// buckets on the left (a lock for private, a globe for public, a key for encrypted
// exchange buckets) and the Deleted view.

import { h, hidden, icon, replace } from "../dom.js";
import { adminUrl, folderUrl, deletedUrl } from "../router.js";
import { bucketList, may, signOut, whoami } from "../session.js";
import { searchBox } from "./searchbox.js";

let frame = null;

/** The frame's parts, built once per sign-in. */
export function layout() {
  if (frame) return frame;
  const app = document.getElementById("app");
  const me = whoami();
  const search = searchBox();
  const side = h("nav", { class: "side", "aria-label": "Buckets" });
  const main = document.getElementById("main");
  const top = h(
    "header",
    { class: "top" },
    h("a", { class: "brand", href: "/app/" }, "filegate"),
    search.element,
    h(
      "div",
      { class: "who" },
      h("span", { title: `${me.subject} · ${me.roles.join(", ")}` }, `${me.tenant} · ${me.roles.join(", ")}`),
      h("button", { type: "button", class: "small", id: "sign-out", onclick: () => signOut({}) }, "Sign out"),
    ),
  );
  app.querySelector(".top").replaceWith(top);
  app.insertBefore(side, main);
  app.classList.remove("bare");
  frame = { app, top, side, main, search };
  return frame;
}

/** Leaves the frame (signed out): only the header's brand stays. */
export function teardown() {
  if (!frame) return;
  frame.side.remove();
  frame.top.replaceWith(h("header", { class: "top" }, h("a", { class: "brand", href: "/app/" }, "filegate")));
  frame.app.classList.add("bare");
  frame = null;
}

/** Marks where the user is in the side navigation. */
export function highlight(route) {
  if (!frame) return;
  const here =
    route.view === "folder" ? `bucket:${route.bucket}` : route.view === "deleted" ? "deleted" : route.view === "admin" ? "admin" : "";
  const item = (key, href, symbol, label, extra) =>
    h(
      "li",
      {},
      h("a", { href, "aria-current": key === here ? "page" : false }, icon(symbol), label, extra ? hidden(extra) : null),
    );
  const buckets = bucketList().map((b) => {
    const [symbol, what] = b.encrypted ? ["key", "encrypted exchange bucket"] : b.public ? ["globe", "public bucket"] : ["lock", "private bucket"];
    return item(`bucket:${b.name}`, folderUrl(b.name), symbol, b.name, `, ${what}`);
  });
  replace(
    frame.side,
    h("h2", { id: "buckets-title" }, "Buckets"),
    h("ul", { "aria-labelledby": "buckets-title" }, buckets),
    h("h2", {}, "More"),
    h("ul", {}, item("deleted", deletedUrl(), "trash", "Deleted"), may("administer") ? item("admin", adminUrl("buckets"), "key", "Administration") : null),
  );
}
