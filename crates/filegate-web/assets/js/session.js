// Who is signed in: the token or API key lives in this tab's session storage (gone when the
// tab closes, never in a URL or a cookie), beside what `GET /v1/me` said about it.

const KEY = "filegate.credential";
const listeners = new Set();
let me = null;
let buckets = [];

export function credential() {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

/** Keeps a credential that `GET /v1/me` accepted, with what it may do and the buckets. */
export function signIn(token, who, bucketList) {
  sessionStorage.setItem(KEY, token);
  me = who;
  buckets = bucketList;
}

/** Restores `me` after a reload (the credential survived in session storage). */
export function remember(who, bucketList) {
  me = who;
  buckets = bucketList;
}

export function signOut(reason = {}) {
  const had = credential() !== null;
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // Storage refused: nothing was kept either.
  }
  me = null;
  buckets = [];
  if (had) for (const listener of listeners) listener(reason);
}

export function onSignOut(listener) {
  listeners.add(listener);
}

export function whoami() {
  return me;
}

export function bucketList() {
  return buckets;
}

export function bucket(name) {
  return buckets.find((b) => b.name === name) || null;
}

/** Whether the roles allow `permission` (`read`, `write`, `upload`, `administer`, …). The
 * server checks every request anyway: this only decides what the page offers. */
export function may(permission) {
  return Boolean(me && me.permissions.includes(permission));
}
