// Search results (`/app/search?q=…&type=…&bucket=…&created=…&size=…`): hits with their
// matched words highlighted, and the type, bucket, date and size facets as filters with their
// counts. Every filter is in the URL, so a search can be bookmarked and shared. "Download all
// as zip" bundles every ready file the search finds (seed 001's download-all).

import { get } from "../api.js";
import { gatherSearch, makeZip } from "../bundle.js";
import { h, icon, replace } from "../dom.js";
import { errorNotice, showError } from "../errors.js";
import { kind, size, statusCell, time } from "../format.js";
import { fileUrl, navigate, searchUrl } from "../router.js";
import { may } from "../session.js";
import { infinite } from "./table.js";

const PAGE = 20;
const DAY_MS = 86400 * 1000;
const KIB = 1024;
const MIB = 1024 * KIB;

/** Ranges of the `created` facet: their words and the filter each stands for. */
const AGES = {
  past_day: ["Past day", 0, 1],
  past_week: ["Past week", 1, 7],
  past_month: ["Past month", 7, 30],
  past_year: ["Past year", 30, 365],
  older: ["Older", 365, null],
};
/** Ranges of the `size` facet (`size_max` includes its bound, the facet's end does not). */
const SIZES = {
  under_100kib: ["Under 100 KB", null, 100 * KIB],
  "100kib_to_1mib": ["100 KB to 1 MB", 100 * KIB, MIB],
  "1mib_to_10mib": ["1 to 10 MB", MIB, 10 * MIB],
  "10mib_to_100mib": ["10 to 100 MB", 10 * MIB, 100 * MIB],
  "100mib_and_over": ["100 MB and over", 100 * MIB, null],
};

/** A range facet: its ranges' words, and the API filters a range stands for. */
function rangeFacet(param, label, ranges, filter) {
  return { param, facet: param, label, words: (v) => ranges[v][0], known: (v) => v in ranges, filter: (v) => filter(ranges[v]) };
}

/** The facets: URL parameter, API facet, legend, how a value reads, the API filters it sets. */
const FACETS = [
  { param: "type", facet: "content_type", label: "Type", words: kind, filter: (v) => ({ type: v }) },
  { param: "bucket", facet: "bucket", label: "Bucket", words: (v) => v, filter: (v) => ({ bucket: v }) },
  rangeFacet("created", "Uploaded", AGES, ([, newest, oldest]) => {
    const ago = (days) => (days === null ? undefined : new Date(Date.now() - days * DAY_MS).toISOString());
    return { created_after: ago(oldest), created_before: newest ? ago(newest) : undefined };
  }),
  rangeFacet("size", "Size", SIZES, ([, from, to]) => ({ size_min: from ?? undefined, size_max: to === null ? undefined : to - 1 })),
];

/** The API's filters for the facets the URL chose (unknown range names are ignored). */
function apiFilters(params) {
  const out = {};
  for (const f of FACETS) {
    const value = params.get(f.param);
    if (value && (!f.known || f.known(value))) Object.assign(out, f.filter(value));
  }
  return out;
}

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
  const filters = apiFilters(params);
  const list = h("ol", { class: "hits", "aria-label": "Results" });
  const facets = h("aside", { class: "facets", "aria-label": "Filters" });
  const summary = h("p", { class: "hint", role: "status", "aria-live": "polite" }, "Searching…");
  const sentinel = h("div", { class: "sentinel" });
  const bundle = h("div", { class: "bundle", id: "bundle", "aria-live": "polite" });
  const zipButton = may("read")
    ? h("button", { type: "button", class: "small", id: "zip-search", hidden: true, onclick: () => zipAll() }, icon("download"), "Download all as zip")
    : null;
  replace(
    main,
    h("h1", { class: "title" }, q ? `Results for “${q}”` : "All files"),
    h("div", { class: "row" }, summary, h("span", { class: "spacer" }), zipButton),
    bundle,
    h("div", { class: "results" }, facets, h("div", {}, list, sentinel)),
  );

  async function zipAll() {
    zipButton.disabled = true;
    const say = (text) => replace(bundle, h("p", { class: "notice" }, text));
    try {
      const ids = await gatherSearch({ q, ...filters }, say, signal);
      const archive = await makeZip(ids, say);
      replace(
        bundle,
        h(
          "p",
          { class: "notice ok" },
          `The zip of ${archive.file_count} file${archive.file_count === 1 ? "" : "s"} (${size(archive.size)}) is ready: `,
          h("a", { href: archive.url, id: "bundle-link", download: "" }, "download it"),
          ` (the link works until ${new Date(archive.url_expires_at).toLocaleString()}).`,
        ),
      );
    } catch (error) {
      if (error.name !== "AbortError") replace(bundle, errorNotice(error, "Making the zip"));
    } finally {
      zipButton.disabled = false;
    }
  }

  let cursor;
  let first = true;
  let done = false;
  async function loadPage() {
    if (done) return false;
    try {
      const answer = await get(
        "/v1/search",
        { q, ...filters, facets: first ? FACETS.map((f) => f.facet).join(",") : undefined, limit: PAGE, cursor },
        { signal },
      );
      if (first) {
        summary.textContent = answer.total === 0
          ? "Nothing found."
          : `${answer.total}${answer.total_is_lower_bound ? "+" : ""} file${answer.total === 1 ? "" : "s"} found.`;
        renderFacets(facets, answer.facets || {}, params);
        if (zipButton) zipButton.hidden = answer.total === 0;
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
    h("div", { class: "where" }, `${f.bucket}/${f.path} · ${size(f.size)} · ${kind(f.content_type)} · `, time(f.created_at), " ", statusCell(f)),
    others.map(([field, value]) => h("div", { class: "where" }, `${field.replace(/^metadata\./, "")}: `, highlighted(value))),
  );
}

function renderFacets(box, facets, params) {
  const groups = FACETS.map(({ param, facet, label, words, known }) => {
    const chosen = params.get(param);
    // Ranges are all listed by the API, empty ones too: only those with files (or chosen)
    // are worth a checkbox.
    const counts = Object.entries(facets[facet] || {}).filter(([value, count]) => count > 0 || value === chosen);
    if (chosen && (!known || known(chosen)) && !counts.some(([value]) => value === chosen)) counts.unshift([chosen, 0]);
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
        return h("label", { for: id }, box_, words(value), h("span", { class: "count" }, String(count)));
      }),
    );
  }).filter(Boolean);
  replace(box, groups.length ? groups : h("p", { class: "hint" }, "No filters for this search."));
}
