// Admin, buckets (`GET`/`POST /v1/admin/buckets`): every bucket with its policy, and a new
// bucket with the policy fields people set most (the rest keeps the defaults; the API and
// the CLI set everything).

import { get, post } from "../../api.js";
import { h, replace } from "../../dom.js";
import { showMessage } from "../../errors.js";
import { size } from "../../format.js";
import { current, folderUrl } from "../../router.js";
import { remember, whoami } from "../../session.js";
import { highlight } from "../layout.js";
import { listLoader, onSubmit } from "./parts.js";

const MIB = 1024 * 1024;

const COLUMNS = [
  ["Name", (b) => h("a", { href: folderUrl(b.name) }, b.name)],
  ["Access", (b) => (b.public ? "Public" : "Private")],
  ["Largest file", (b) => size(b.max_file_size)],
  ["Accepts", (b) => (b.allowed_content_types.length ? b.allowed_content_types.join(", ") : "Any type")],
  ["Stages", (b) => b.stages.join(" → ")],
  ["Deleted kept", (b) => `${b.retention_days} days`],
  ["Duplicates", (b) => (b.dedup === "off" ? "Stored each time" : `Stored once per ${b.dedup}`)],
];

export function renderBuckets(main, _route, { signal }) {
  const list = h("div", {});
  const load = listLoader(list, "/v1/admin/buckets", "Loading the buckets", signal, {
    caption: "Buckets",
    columns: COLUMNS,
    key: (b) => b.name,
    empty: "No buckets.",
  });
  const form = h(
    "form",
    { class: "card admin-form", id: "new-bucket" },
    h("h2", {}, "New bucket"),
    h("label", { for: "bucket-name" }, "Name"),
    h("input", { id: "bucket-name", name: "name", required: true, pattern: "[a-z0-9][a-z0-9._\\-]{0,62}", spellcheck: "false", "aria-describedby": "bucket-name-hint" }),
    h("p", { class: "hint", id: "bucket-name-hint" }, "Lowercase letters, digits, dot, dash and underscore."),
    h("label", { for: "bucket-max" }, "Largest file, in MB (empty: the default)"),
    h("input", { id: "bucket-max", name: "max", type: "number", min: "1" }),
    h("label", { for: "bucket-types" }, "Accepted types (comma separated; empty: any)"),
    h("input", { id: "bucket-types", name: "types", placeholder: "image/png, image/jpeg, application/pdf", spellcheck: "false" }),
    h("label", { for: "bucket-retention" }, "Keep deleted files, in days (empty: the default)"),
    h("input", { id: "bucket-retention", name: "retention", type: "number", min: "0" }),
    h("label", { class: "inline check" }, h("input", { type: "checkbox", name: "public", id: "bucket-public" }), "Public: files get stable unsigned links"),
    h("div", { class: "buttons" }, h("button", { type: "submit", class: "primary" }, "Create bucket")),
  );
  onSubmit(form, "Creating the bucket", async (data) => {
    const number = (name) => (data.get(name) ? Number(data.get(name)) : undefined);
    const types = String(data.get("types") || "")
      .split(",")
      .map((t) => t.trim())
      .filter(Boolean);
    const bucket = await post("/v1/admin/buckets", {
      name: String(data.get("name")).trim(),
      public: data.get("public") === "on",
      max_file_size: number("max") ? number("max") * MIB : undefined,
      allowed_content_types: types.length ? types : undefined,
      retention_days: number("retention"),
    });
    showMessage(`The bucket ${bucket.name} was created.`);
    // The side navigation lists it at once.
    const buckets = await get("/v1/buckets");
    remember(whoami(), buckets.items);
    highlight(current());
    load();
  });
  replace(main, list, form);
  load();
  return null;
}
