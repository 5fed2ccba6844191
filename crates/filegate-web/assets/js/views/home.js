// `/app/`: the buckets to open, with what each accepts.

import { h, icon, replace } from "../dom.js";
import { size } from "../format.js";
import { folderUrl } from "../router.js";
import { bucketList, whoami } from "../session.js";

export function renderHome(main) {
  const buckets = bucketList();
  const me = whoami();
  replace(
    main,
    h("h1", { class: "title" }, "Buckets"),
    buckets.length === 0
      ? h("div", { class: "empty" }, h("p", {}, "There are no buckets you can open. An administrator of your tenant can create one."))
      : h(
          "ul",
          { class: "hits", "aria-label": "Buckets" },
          buckets.map((b) =>
            h(
              "li",
              {},
              h("a", { href: folderUrl(b.name) }, icon(b.encrypted ? "key" : b.public ? "globe" : "lock"), " ", b.name),
              h(
                "div",
                { class: "where" },
                [
                  b.encrypted ? "Encrypted exchange bucket" : b.public ? "Public: files have stable unsigned links" : "Private",
                  `files up to ${size(b.max_file_size)}`,
                  b.allowed_content_types.length ? `only ${b.allowed_content_types.join(", ")}` : "any type",
                  `deleted files kept ${b.retention_days} days`,
                ].join(" · "),
              ),
            ),
          ),
        ),
    h("p", { class: "hint" }, `Signed in to tenant ${me.tenant} as ${me.subject}.`),
  );
}
