// Sign-in with the identity provider: OpenID Connect authorization code with PKCE. The
// page sends the browser to the provider with a challenge (the SHA-256 of a random verifier
// kept in this tab's session storage, with a random `state`); the provider sends it back to
// `/app/auth/callback?code&state`; the server exchanges the code with the verifier
// (`POST /v1/auth/token`) and answers a token it accepts, kept like a pasted one. The code
// never leaves the address bar for anywhere but this server, and is removed from it at once.

import { ApiError, get, post } from "./api.js";

const KEY = "filegate.oidc";
export const CALLBACK = "/app/auth/callback";

/** The provider's sign-in, or null (`GET /v1/auth/config`). */
export async function providerSignIn() {
  try {
    const answer = await get("/v1/auth/config", undefined, { token: "" });
    return answer.oidc || null;
  } catch {
    // The token field still works without it.
    return null;
  }
}

function base64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

function random(bytes) {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** Sends the browser to the provider; `back` is where to land once signed in. */
export async function startSignIn(oidc, back) {
  if (!crypto.subtle) {
    throw new ApiError(0, "insecure-context", "Signing in with the identity provider needs this page over HTTPS (or on localhost)", null);
  }
  const verifier = random(32);
  const state = random(16);
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem(KEY, JSON.stringify({ verifier, state, back }));
  const url = new URL(oidc.authorization_endpoint);
  const params = {
    response_type: "code",
    client_id: oidc.client_id,
    redirect_uri: location.origin + CALLBACK,
    scope: oidc.scopes,
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  };
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  location.assign(url.toString());
}

/**
 * The provider sent the browser back: the token the server exchanged the code for, and
 * where to go. Throws (in words) when the provider refused or the answer is not the one
 * this tab asked for.
 */
export async function finishSignIn(params) {
  let pending = null;
  try {
    pending = JSON.parse(sessionStorage.getItem(KEY) || "null");
  } catch {
    pending = null;
  }
  sessionStorage.removeItem(KEY);
  const back = (pending && pending.back) || "/app/";
  if (params.get("error")) {
    const why = params.get("error_description") || params.get("error");
    throw Object.assign(new ApiError(0, "provider-refused", `The identity provider did not sign you in: ${why}`, null), { back });
  }
  // A `state` this tab did not send is someone else's sign-in (or a replay): refused.
  if (!pending || !params.get("code") || params.get("state") !== pending.state) {
    throw Object.assign(new ApiError(0, "state-mismatch", "This sign-in was not started in this tab. Start it again", null), { back });
  }
  const answer = await post(
    "/v1/auth/token",
    { code: params.get("code"), code_verifier: pending.verifier, redirect_uri: location.origin + CALLBACK },
    { token: "" },
  );
  return { token: answer.token, back };
}
