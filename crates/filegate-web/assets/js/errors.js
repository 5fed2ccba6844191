// Failures as sentences, with the request id in small print so that an operator can find
// the request in the logs. Messages go to one live region per view.

import { h, replace } from "./dom.js";

const SENTENCES = {
  unreachable: () => "The server could not be reached. Check the connection and try again.",
  "invalid-token": (e) => `That token or key was not accepted: ${lower(e.message)}.`,
  "invalid-credentials": (e) => `That token or key was not accepted: ${lower(e.message)}.`,
  "token-expired": () => "That token has expired. Ask for a new one and sign in again.",
  unauthenticated: () => "Your session has ended. Sign in again.",
  forbidden: () => "Your role does not allow this.",
  "not-found": () => "That no longer exists: it may have been deleted or moved.",
  "file-too-large": (e) => `That file is too large for this bucket: ${lower(e.message)}.`,
  "unsupported-content-type": (e) => `This bucket does not accept that type of file: ${lower(e.message)}.`,
  "quota-exceeded": (e) => `The storage quota is used up: ${lower(e.message)}.`,
  "rate-limited": () => "Too many requests at once. Wait a moment and try again.",
  "file-not-ready": () => "The file is not ready yet: it can be downloaded once processing has finished.",
  unavailable: () => "The server is busy or a service it needs is down. Try again in a moment.",
};

function lower(message) {
  const text = String(message || "").replace(/[.\s]+$/, "");
  return text.charAt(0).toLowerCase() + text.slice(1);
}

function sentence(message) {
  const text = String(message || "Something went wrong").trim().replace(/[.\s]+$/, "");
  return text.charAt(0).toUpperCase() + text.slice(1) + ".";
}

/** What to tell a person about `error` (an ApiError, or anything thrown). */
export function describe(error, doing) {
  const make = SENTENCES[error && error.code];
  const text = make ? make(error) : sentence(error && error.message);
  return doing ? `${doing} failed. ${text}` : text;
}

/** A notice element for `error`: the sentence, then the request id. */
export function errorNotice(error, doing) {
  return h(
    "div",
    { class: "notice error", role: "alert" },
    describe(error, doing),
    error && error.requestId ? h("small", { class: "request-id" }, `Request id: ${error.requestId}`) : null,
  );
}

/** The region of the current view where messages appear. */
let region = null;
/** A message for the next view (the one navigated to after an action). */
let pending = null;

export function setRegion(el) {
  region = el;
  if (pending) {
    showMessage(pending);
    pending = null;
  }
}

export function flash(text) {
  pending = text;
}

export function showError(error, doing) {
  if (error && error.name === "AbortError") return;
  console.warn(doing || "failure", error);
  if (region) replace(region, errorNotice(error, doing));
}

export function showMessage(text) {
  if (region) replace(region, h("div", { class: "notice ok", role: "status" }, text));
}

export function clearMessages() {
  if (region) region.replaceChildren();
}
