// The search box in the header: suggestions while typing (300 ms after the last key, the
// older request cancelled), arrow keys to pick one, Enter to search. A combobox in the
// WAI-ARIA sense: the list is announced and the input keeps the focus.

import { get } from "../api.js";
import { h, icon, replace } from "../dom.js";
import { current, navigate, searchUrl } from "../router.js";

const DEBOUNCE_MS = 300;

export function searchBox() {
  const list = h("ul", { class: "suggestions", id: "suggestions", role: "listbox", "aria-label": "Suggestions", hidden: true });
  const input = h("input", {
    id: "search",
    type: "search",
    name: "q",
    placeholder: "Search files",
    autocomplete: "off",
    role: "combobox",
    "aria-autocomplete": "list",
    "aria-expanded": "false",
    "aria-controls": "suggestions",
    "aria-label": "Search files",
  });
  const form = h(
    "form",
    { class: "search", role: "search", onsubmit: (e) => submit(e) },
    icon("search"),
    input,
    list,
  );
  let timer = null;
  let inflight = null;
  let items = [];
  let active = -1;

  function close() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function show(suggestions) {
    items = suggestions;
    active = -1;
    replace(
      list,
      suggestions.map((s, i) =>
        h(
          "li",
          {
            id: `suggestion-${i}`,
            role: "option",
            "aria-selected": "false",
            onmousedown: (e) => {
              e.preventDefault();
              choose(i);
            },
          },
          h("span", {}, s.text),
          h("span", { class: "count" }, String(s.count)),
        ),
      ),
    );
    const open = suggestions.length > 0 && document.activeElement === input;
    list.hidden = !open;
    input.setAttribute("aria-expanded", String(open));
  }

  function mark(index) {
    active = index;
    list.querySelectorAll("li").forEach((li, i) => li.setAttribute("aria-selected", String(i === index)));
    if (index >= 0) input.setAttribute("aria-activedescendant", `suggestion-${index}`);
    else input.removeAttribute("aria-activedescendant");
  }

  function choose(index) {
    input.value = items[index].text;
    close();
    go();
  }

  async function suggest() {
    const q = input.value.trim();
    if (inflight) inflight.abort();
    if (q.length < 2) return show([]);
    inflight = new AbortController();
    try {
      const answer = await get("/v1/search/suggest", { q, limit: 8 }, { signal: inflight.signal });
      show(answer.suggestions || []);
    } catch {
      // Suggestions are a help, not the search: a failure shows none.
      show([]);
    }
  }

  function go() {
    const q = input.value.trim();
    const route = current();
    // Filters already chosen stay while the words change.
    const params = route.view === "search" ? Object.fromEntries(route.params) : {};
    delete params.cursor;
    navigate(searchUrl({ ...params, q }));
  }

  function submit(event) {
    event.preventDefault();
    clearTimeout(timer);
    if (active >= 0) return choose(active);
    close();
    go();
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(suggest, DEBOUNCE_MS);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" && items.length) {
      event.preventDefault();
      if (list.hidden) show(items);
      mark((active + 1) % items.length);
    } else if (event.key === "ArrowUp" && items.length) {
      event.preventDefault();
      mark(active <= 0 ? items.length - 1 : active - 1);
    } else if (event.key === "Escape") {
      close();
    }
  });
  input.addEventListener("blur", () => setTimeout(close, 100));

  return {
    element: form,
    input,
    /** Shows the words of the search the URL names. */
    sync(route) {
      if (route.view === "search" && document.activeElement !== input) input.value = route.params.get("q") || "";
    },
  };
}
