// The public HTTP API, with the signed-in credential. Nothing here is page-only: these are
// the routes the CLI and every other client use (docs/api.md).

import { credential, signOut } from "./session.js";

/** A refusal or failure, as the API describes it: a stable code, a message for people, and
 * the request id to quote. `status` 0 means the server could not be reached. */
export class ApiError extends Error {
  constructor(status, code, message, requestId) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
}

/** `api("GET", "/v1/files", {query: {bucket: "x"}})` → the parsed JSON answer. */
export async function api(method, path, { query, body, token, signal } = {}) {
  const url = new URL(path, location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const headers = { Accept: "application/json" };
  const bearer = token ?? credential();
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      credentials: "omit",
      cache: "no-store",
    });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError(0, "unreachable", "The server could not be reached. Check the connection and try again.", null);
  }
  const requestId = response.headers.get("x-request-id");
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!response.ok) {
    const error = json && json.error;
    const failure = new ApiError(
      response.status,
      error ? error.code : "http-" + response.status,
      error ? error.message : `The server answered ${response.status}.`,
      (error && error.request_id) || requestId,
    );
    // A credential that stopped working (expired, revoked) ends the session, unless this
    // call was the sign-in itself trying one.
    if (response.status === 401 && token === undefined) signOut({ expired: failure });
    throw failure;
  }
  return json;
}

export const get = (path, query, options = {}) => api("GET", path, { ...options, query });
export const post = (path, body, options = {}) => api("POST", path, { ...options, body });
export const patch = (path, body) => api("PATCH", path, { body });
export const del = (path, query) => api("DELETE", path, { query });

/** `/v1/files/{id}`-style paths with each part encoded. */
export function route(strings, ...parts) {
  return strings.reduce((out, s, i) => out + s + (i < parts.length ? encodeURIComponent(parts[i]) : ""), "");
}
