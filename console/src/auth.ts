// The API token the console signs in with, kept for this browser tab only (sessionStorage).

const KEY = 'edgefleet.token';

export function token(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function setToken(value: string): void {
  sessionStorage.setItem(KEY, value);
}

export function clearToken(): void {
  sessionStorage.removeItem(KEY);
}

/**
 * A `#token=<token>` fragment (the link the controller prints) signs in at once: the token is
 * stored and the fragment removed from the address bar and history.
 */
export function takeTokenFromFragment(): boolean {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!m) return false;
  setToken(decodeURIComponent(m[1]));
  history.replaceState(history.state, '', location.pathname + location.search);
  return true;
}

/**
 * A refused single sign-on comes back as `#sso_error=<CODE>&message=<text>`: the message, once, with
 * the fragment removed.
 */
export function takeSsoErrorFromFragment(): string | null {
  const m = /(?:^#|&)sso_error=([^&]+)(?:&message=([^&]*))?/.exec(location.hash);
  if (!m) return null;
  history.replaceState(history.state, '', location.pathname + location.search);
  const message = m[2] ? decodeURIComponent(m[2].replace(/\+/g, ' ')) : '';
  return `Single sign-on failed (${decodeURIComponent(m[1])})${message ? `: ${message}` : '.'}`;
}
