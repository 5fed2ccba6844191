// A file's panel (`/app/f/{id}`): preview, what it is, what processing found, its sha256,
// its shares, for admins its audit trail (`GET /v1/audit?file_id=`), and what the role
// allows doing with it. A file still being processed is followed until the pipeline decides.

import { api, del, get, patch, route } from "../api.js";
import { h, icon, replace } from "../dom.js";
import { flash, showError, showMessage } from "../errors.js";
import { badge, date, kind, settling, size, time } from "../format.js";
import { fileUrl, folderUrl, navigate } from "../router.js";
import { bucket as bucketInfo, may } from "../session.js";
import { thumbnailUrl } from "../thumbs.js";
import { auditList } from "./audit.js";
import { crumbs } from "./browse.js";
import { confirmDialog, formDialog } from "./dialogs.js";
import { shareDialog } from "./share.js";

export function renderFile(main, route_, { signal }) {
  const id = route_.id;
  let stopped = false;
  let objectUrl = null;
  replace(main, h("p", { class: "more", "aria-busy": "true" }, "Loading…"));

  async function load() {
    try {
      const file = await get(route`/v1/files/${id}`, undefined, { signal });
      if (stopped) return;
      show(file);
      if (settling(file.status)) follow(file);
    } catch (error) {
      if (error.name !== "AbortError") {
        replace(main, h("h1", { class: "title" }, "File"));
        showError(error, "Opening the file");
      }
    }
  }

  async function follow(file) {
    let wait = 500;
    while (!stopped && settling(file.status)) {
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(wait * 1.5, 3000);
      if (stopped) return;
      const status = await get(route`/v1/files/${id}/status`, undefined, { signal }).catch(() => null);
      if (status && status.status !== file.status) {
        file = await get(route`/v1/files/${id}`, undefined, { signal });
        show(file);
      }
    }
  }

  function show(file) {
    const folder = file.path.slice(0, file.path.length - file.name.length);
    const writer = may("write");
    const live = file.status !== "deleted" && file.status !== "purged";
    const facts = [
      ["Status", h("span", {}, badge(file.status), file.status_reason ? ` ${file.status_reason}` : "")],
      ["Size", `${size(file.size)} (${file.size.toLocaleString()} bytes)`],
      ["Type", `${kind(file.content_type)} · ${file.content_type}`],
      ["Bucket", file.bucket],
      ["Path", file.path],
      ["Uploaded", time(file.created_at)],
      ["Modified", time(file.updated_at)],
      ["Downloads", String(file.download_count)],
      ["Owner", file.owner],
    ];
    if (file.external_id) facts.push(["External id", file.external_id]);
    if (file.deleted_at) facts.push(["Deleted", time(file.deleted_at)]);
    const p = file.processing || {};
    const found = [];
    if (p.sniffed_type) found.push(["Detected type", p.sniffed_type]);
    if (p.scan) found.push(["Virus scan", p.scan === "clean" ? "Clean" : p.scan]);
    if (p.image) {
      const img = p.image;
      if (img.width && img.height) found.push(["Image size", `${img.width} × ${img.height} px`]);
      for (const [key, value] of Object.entries(img.exif || {})) found.push([`EXIF ${key}`, String(value)]);
    }
    if (p.decryption) found.push(["Decrypted with", `passphrase version ${p.decryption.passphrase_version}`]);

    const preview = h("div", { class: "preview", hidden: !(p.thumbnails && p.thumbnails.length) });
    const shares = h("div", {});
    const trail = may("administer") ? auditList({ file_id: file.id }, { signal, compact: true }) : null;
    replace(
      main,
      crumbs(file.bucket, folder, { last: false }),
      h("h1", { class: "title" }, file.name),
      h(
        "div",
        { class: "panel" },
        h(
          "div",
          {},
          preview,
          h("section", { class: "card", "aria-labelledby": "facts-title" }, h("h2", { id: "facts-title" }, "Details"), dl(facts)),
          found.length
            ? h("section", { class: "card", "aria-labelledby": "found-title" }, h("h2", { id: "found-title" }, "Processing results"), dl(found))
            : null,
          h(
            "section",
            { class: "card", "aria-labelledby": "sha-title" },
            h("h2", { id: "sha-title" }, "SHA-256"),
            file.sha256
              ? h("div", { class: "row" }, h("code", { class: "mono", id: "sha256" }, file.sha256), copyButton(file.sha256))
              : h("p", { class: "hint" }, "Computed once the file has been processed."),
          ),
          Object.keys(file.metadata || {}).length
            ? h("section", { class: "card", "aria-labelledby": "meta-title" }, h("h2", { id: "meta-title" }, "Metadata"), dl(Object.entries(file.metadata)))
            : null,
          writer && live ? h("section", { class: "card", "aria-labelledby": "shares-title" }, h("h2", { id: "shares-title" }, "Shares"), shares) : null,
          trail
            ? h("section", { class: "card", id: "audit", "aria-labelledby": "audit-title" }, h("h2", { id: "audit-title" }, "Audit trail"), trail)
            : null,
        ),
        h(
          "aside",
          { "aria-label": "Actions" },
          h(
            "div",
            { class: "actions card" },
            file.status === "ready" ? h("button", { type: "button", class: "primary", id: "download", onclick: () => download(file) }, icon("download"), "Download") : null,
            writer && live ? h("button", { type: "button", id: "rename", onclick: () => rename(file) }, icon("edit"), "Rename or move") : null,
            writer && live && file.status === "ready" ? h("button", { type: "button", id: "share", onclick: () => share(file) }, icon("share"), "Share") : null,
            writer && live ? h("button", { type: "button", id: "delete", onclick: () => remove(file) }, icon("trash"), "Delete") : null,
            writer && file.status === "deleted" ? h("button", { type: "button", id: "restore", onclick: () => restore(file) }, icon("restore"), "Restore") : null,
          ),
        ),
      ),
    );
    if (writer && live) loadShares(file, shares);
    if (p.thumbnails && p.thumbnails.length) loadPreview(file, preview);
  }

  async function loadPreview(file, box) {
    try {
      const url = await thumbnailUrl(file.id, 256, signal);
      if (!url) return;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
      objectUrl = url;
      replace(box, h("img", { src: objectUrl, alt: `Preview of ${file.name}` }));
    } catch {
      box.hidden = true;
    }
  }

  async function loadShares(file, box) {
    try {
      const list = await get(route`/v1/files/${file.id}/shares`, undefined, { signal });
      const items = list.items.map((s) =>
        h(
          "li",
          { dataset: { share: s.id } },
          h("span", {}, s.permission === "download" ? "View and download" : "View only"),
          h("span", { class: "badge" }, s.status),
          h("span", { class: "hint" }, `expires ${date(s.expires_at)} · ${s.download_count} downloads`),
          s.status === "active"
            ? h("button", { type: "button", class: "small", onclick: () => revoke(file, s, box) }, "Revoke")
            : null,
        ),
      );
      replace(box, items.length ? h("ul", { class: "shares" }, items) : h("p", { class: "hint" }, "Not shared."));
    } catch (error) {
      showError(error, "Loading the shares");
    }
  }

  async function revoke(file, share, box) {
    const ok = await confirmDialog({
      title: "Revoke this link?",
      text: "Whoever has the link can no longer open the file. This cannot be undone.",
      confirm: "Revoke",
      danger: true,
    });
    if (!ok) return;
    try {
      await del(route`/v1/shares/${share.id}`);
      showMessage("The link was revoked.");
      loadShares(file, box);
    } catch (error) {
      showError(error, "Revoking the link");
    }
  }

  async function download(file) {
    try {
      const answer = await get(route`/v1/files/${file.id}/download`, { disposition: "attachment" });
      const a = h("a", { href: answer.url, download: file.name, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
    } catch (error) {
      showError(error, "Downloading");
    }
  }

  async function rename(file) {
    const renamed = await formDialog({
      title: `Rename or move ${file.name}`,
      submitLabel: "Save",
      fields: () => [
        h("label", { for: "new-path" }, "Path in the bucket"),
        h("input", { id: "new-path", name: "path", value: file.path, required: true, spellcheck: "false" }),
        h("p", { class: "hint" }, "Change the last part to rename it; change the folders before it to move it."),
      ],
      submit: (form) => patch(route`/v1/files/${file.id}`, { path: new FormData(form).get("path").trim() }),
    });
    if (renamed) {
      show(renamed);
      showMessage(`Saved as ${renamed.path}.`);
    }
  }

  async function share(file) {
    const created = await shareDialog(file).catch((error) => showError(error, "Sharing"));
    if (created) show(await get(route`/v1/files/${file.id}`));
  }

  async function remove(file) {
    const info = bucketInfo(file.bucket);
    const ok = await confirmDialog({
      title: `Delete ${file.name}?`,
      text: `Deleted files can be restored from Deleted for ${info ? info.retention_days : 30} days; after that they are gone for good.`,
      confirm: "Delete",
      danger: true,
    });
    if (!ok) return;
    try {
      await api("DELETE", route`/v1/files/${file.id}`);
      flash(`${file.name} was deleted. You can restore it from Deleted.`);
      navigate(folderUrl(file.bucket, file.path.slice(0, file.path.length - file.name.length)));
    } catch (error) {
      showError(error, "Deleting");
    }
  }

  async function restore(file) {
    try {
      const restored = await api("POST", route`/v1/files/${file.id}/restore`);
      flash(`${restored.name} was restored.`);
      navigate(fileUrl(file.id), { replace: true });
    } catch (error) {
      showError(error, "Restoring");
    }
  }

  load();
  return () => {
    stopped = true;
    if (objectUrl) URL.revokeObjectURL(objectUrl);
  };
}

function dl(pairs) {
  return h(
    "dl",
    { class: "facts" },
    pairs.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
  );
}

function copyButton(text) {
  const button = h("button", { type: "button", class: "small", "aria-label": "Copy the SHA-256" }, "Copy");
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch {
      button.textContent = "Select and copy";
    }
  });
  return button;
}
