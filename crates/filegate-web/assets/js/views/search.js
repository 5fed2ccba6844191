// Search results (`/app/search?q=…&type=…&bucket=…`): hits with their matched words
// highlighted, and the type and bucket facets as filters with their counts. Every filter is
// in the URL, so a search can be bookmarked and shared.

import { get } from "../api.js";
import { h, icon, replace } from "../dom.js";
import { showError } from "../errors.js";
import { badge, kind, size, time } from "../format.js";
import { fileUrl, navigate, searchUrl } from "../router.js";
import { infinite } from "./table.js";

const PAGE = 20;
const FACETS = [
  ["type", "content_type", "Type"],
  ["bucket", "bucket", "Bucket"],
];

/** `<mark>`ed text from the API (HTML-escaped, `<mark>` around matches) as DOM nodes: the
 * string is split on the two tags and everything else is unescaped into text nodes, so no
 * markup from a file name or a metadata value can ever become an element. */
export function highlighted(escaped) {
  const out = [];
  let mark = null;
  for (const token of String(escaped).split(/(<mark>|<\/mark>)/)) {
    if (token === "<mark>") {
      mark = document.createElement("mark");
    } else if (token === "</mark>") {
      if (mark) out.push(mark);
      mark = null;
    } else if (token) {
      const text = document.createTextNode(unescape(token));
      if (mark) mark.append(text);
      else out.push(text);
    }
  }
  if (mark) out.push(mark);
  return out;
}

function unescape(text) {
  return text.replace(/&(lt|gt|amp|quot|#39|#x27);/g, (_, e) => ({ lt: "<", gt: ">", amp: "&", quot: '"', "#39": "'", "#x27": "'" })[e]);
}

export function renderSearch(main, route, { signal }) {
  const params = route.params;
  const q = params.get("q") || "";
  const filters = Object.fromEntries(FACETS.map(([param]) => [param, params.get(param) || ""]));
  const list = h("ol", { class: "hits", "aria-label": "Results" });
  const facets = h("aside", { class: "facets", "aria-label": "Filters" });
  const summary = h("p", { class: "hint", role: "status", "aria-live": "polite" }, "Searching…");
  const sentinel = h("div", { class: "sentinel" });
  replace(
    main,
    h("h1", { class: "title" }, q ? `Results for “${q}”` : "All files"),
    summary,
    h("div", { class: "results" }, facets, h("div", {}, list, sentinel)),
  );

  let cursor;
  let first = true;
  let done = false;
  async function loadPage() {
    if (done) return false;
    try {
      const answer = await get(
        "/v1/search",
        { q, ...filters, facets: first ? FACETS.map(([, facet]) => facet).join(",") : undefined, limit: PAGE, cursor },
        { signal },
      );
      if (first) {
        summary.textContent = answer.total === 0
          ? "Nothing found."
          : `${answer.total}${answer.total_is_lower_bound ? "+" : ""} file${answer.total === 1 ? "" : "s"} found.`;
        renderFacets(facets, answer.facets || {}, params);
        first = false;
      }
      for (const hit of answer.items) list.append(hitItem(hit));
      cursor = answer.next_cursor;
      done = !cursor;
      return !done;
    } catch (error) {
      if (error.name !== "AbortError") {
        summary.textContent = "";
        showError(error, "Searching");
      }
      return false;
    }
  }
  return infinite(sentinel, loadPage);
}

function hitItem(hit) {
  const f = hit.file;
  const name = hit.highlights && hit.highlights.name ? highlighted(hit.highlights.name) : [f.name];
  const others = Object.entries(hit.highlights || {}).filter(([field]) => field !== "name");
  return h(
    "li",
    { dataset: { id: f.id } },
    h("a", { href: fileUrl(f.id) }, icon((f.content_type || "").startsWith("image/") ? "image" : "file"), " ", name),
    h("div", { class: "where" }, `${f.bucket}/${f.path} · ${size(f.size)} · ${kind(f.content_type)} · `, time(f.created_at), " ", badge(f.status, f.status_reason)),
    others.map(([field, value]) => h("div", { class: "where" }, `${field.replace(/^metadata\./, "")}: `, highlighted(value))),
  );
}

function renderFacets(box, facets, params) {
  const groups = FACETS.map(([param, facet, label]) => {
    const counts = Object.entries(facets[facet] || {});
    const chosen = params.get(param);
    if (chosen && !counts.some(([value]) => value === chosen)) counts.unshift([chosen, 0]);
    if (counts.length === 0) return null;
    return h(
      "fieldset",
      {},
      h("legend", {}, label),
      counts.map(([value, count]) => {
        const id = `facet-${param}-${value}`.replace(/[^a-zA-Z0-9_-]/g, "_");
        const box_ = h("input", {
          type: "checkbox",
          id,
          checked: chosen === value,
          onchange: () => {
            const next = Object.fromEntries(params);
            delete next.cursor;
            if (box_.checked) next[param] = value;
            else delete next[param];
            navigate(searchUrl(next));
          },
        });
        return h("label", { for: id }, box_, param === "type" ? kind(value) : value, h("span", { class: "count" }, String(count)));
      }),
    );
  }).filter(Boolean);
  replace(box, groups.length ? groups : h("p", { class: "hint" }, "No filters for this search."));
}
