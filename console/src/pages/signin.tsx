// Sign in with the controller's admin token (the controller prints a one-click link with #token=).
import { useEffect, useState } from 'preact/hooks';
import { ApiError, takeSignInMessage } from '../api';
import { setToken, clearToken, takeSsoErrorFromFragment } from '../auth';
import { ErrorBanner, useTitle } from '../components';
import { navigate, safeNext, useLocation } from '../router';

export function SignInPage() {
  useTitle('Sign in');
  const loc = useLocation();
  const [value, setValue] = useState('');
  const [message] = useState(takeSignInMessage);
  const [error, setError] = useState<string | null>(takeSsoErrorFromFragment);
  const [busy, setBusy] = useState(false);
  const [sso, setSso] = useState(false);

  // The single sign-on button shows only when the controller has a provider configured.
  useEffect(() => {
    fetch('/api/v1/auth/oidc/config')
      .then((res) => setSso(res.ok))
      .catch(() => setSso(false));
  }, []);

  const submit = async (e: Event) => {
    e.preventDefault();
    const t = value.trim();
    if (!t) {
      setError('Enter the admin token.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      // Checked before it is kept: a wrong token answers 401 here rather than on the first page.
      const res = await fetch('/api/v1/info', { headers: { Authorization: `Bearer ${t}` } });
      if (res.status === 401) throw new ApiError(401, 'UNAUTHENTICATED', 'The controller refused this token. Use the admin token (edgefleet prints it at start; it is in <data dir>/admin-token).');
      if (!res.ok) throw new ApiError(res.status, 'HTTP', `The controller answered ${res.status}. Try again in a moment.`);
      setToken(t);
      const next = loc.query.get('next');
      navigate(safeNext(next), { replace: true });
    } catch (err) {
      clearToken();
      setError(err instanceof ApiError ? err.message : 'The controller cannot be reached. Check that it runs and that this browser can reach it.');
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="signin card" id="main">
      <h1>
        <span class="brand">edgefleet</span> console
      </h1>
      <p class="muted">Sign in with the controller's admin token.</p>
      {message ? <p class="notice" role="status">{message}</p> : null}
      <ErrorBanner error={error} />
      {sso ? (
        <p>
          <a class="btn primary" href="/api/v1/auth/oidc/login" data-testid="signin-sso">
            Sign in with SSO
          </a>
        </p>
      ) : null}
      <form onSubmit={submit}>
        <label for="token">Admin token</label>
        <input
          id="token"
          type="password"
          autoComplete="current-password"
          spellcheck={false}
          autoFocus
          value={value}
          onInput={(e) => setValue((e.target as HTMLInputElement).value)}
          data-testid="signin-token"
        />
        <button type="submit" class="btn primary" disabled={busy} data-testid="signin-submit">
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <p class="hint">
        The token is kept in this browser tab only and forgotten when the tab closes. It is the file <code>admin-token</code> in the
        controller's data directory; a console link ending in <code>#token=…</code> signs in with one click.
      </p>
    </main>
  );
}
