// The console's frame: navigation, the live indicator, sign-out, and the page for the address.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { clearToken, token } from './auth';
import { Link } from './components';
import { startLive, stopLive, useLiveMode } from './live';
import { match, navigate, useLocation } from './router';
import { AlertsPage } from './pages/alerts';
import { AppsPage } from './pages/apps';
import { AuditPage } from './pages/audit';
import { DevicePage } from './pages/device';
import { DevicesPage } from './pages/devices';
import { FleetPage } from './pages/fleet';
import { RolloutPage, RolloutsPage } from './pages/rollouts';
import { SignInPage } from './pages/signin';

const NAV: [string, string, string][] = [
  ['fleet', 'Fleet', '/'],
  ['devices', 'Devices', '/devices'],
  ['apps', 'Apps', '/apps'],
  ['rollouts', 'Rollouts', '/rollouts'],
  ['alerts', 'Alerts', '/alerts'],
  ['audit', 'Audit', '/audit'],
];

type Route = [string, (p: Record<string, string>) => ComponentChildren];
const ROUTES: Route[] = [
  ['/', () => <FleetPage />],
  ['/devices', () => <DevicesPage />],
  ['/devices/:id', (p) => <DevicePage id={p.id} />],
  ['/apps', () => <AppsPage />],
  ['/rollouts', () => <RolloutsPage />],
  ['/rollouts/:id', (p) => <RolloutPage id={p.id} />],
  ['/alerts', () => <AlertsPage />],
  ['/audit', () => <AuditPage />],
];

function LiveIndicator() {
  const mode = useLiveMode();
  const text = { live: 'Live', connecting: 'Connecting…', polling: 'Polling every 5 s', off: 'Offline' }[mode];
  const title = {
    live: 'Changes appear as they happen',
    connecting: 'Connecting to the live stream',
    polling: 'The live stream is not available; pages refresh every 5 seconds',
    off: 'Not connected',
  }[mode];
  return (
    <span class={`live mode-${mode}`} data-testid="live-indicator" data-live={mode === 'live' ? 'true' : 'false'} title={title} role="status">
      <span class="dot" aria-hidden="true" />
      {text}
    </span>
  );
}

function section(path: string): string {
  const first = path.split('/')[1] ?? '';
  return first === '' ? 'fleet' : first;
}

export function App() {
  const loc = useLocation();
  const signedIn = token() !== null;
  const onSignIn = loc.path === '/signin';

  useEffect(() => {
    if (!signedIn && !onSignIn) {
      const back = loc.path + (loc.query.toString() ? `?${loc.query}` : '');
      navigate(back === '/' ? '/signin' : `/signin?next=${encodeURIComponent(back)}`, { replace: true });
    }
  }, [signedIn, onSignIn, loc.path]);

  // After a change of page, keyboard and screen reader users continue at its content.
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    document.getElementById('main')?.focus({ preventScroll: true });
  }, [loc.path]);

  useEffect(() => {
    if (signedIn && !onSignIn) startLive();
    else stopLive();
  }, [signedIn, onSignIn]);

  if (onSignIn || !signedIn) {
    return (
      <div class="signin-frame">
        <SignInPage />
      </div>
    );
  }

  let page: ComponentChildren = null;
  for (const [pattern, render] of ROUTES) {
    const params = match(pattern, loc.path);
    if (params) {
      page = render(params);
      break;
    }
  }
  const active = section(loc.path);
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <Link href="/" class="brand">
          edgefleet
        </Link>
        <nav aria-label="Main">
          {NAV.map(([id, label, href]) => (
            <a
              key={id}
              href={href}
              data-testid={`nav-${id}`}
              aria-current={active === id ? 'page' : undefined}
              onClick={(e) => {
                if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
                e.preventDefault();
                navigate(href);
              }}
            >
              {label}
            </a>
          ))}
        </nav>
        <div class="top-right">
          <LiveIndicator />
          <button
            type="button"
            class="btn small ghost"
            data-testid="signout"
            onClick={() => {
              stopLive();
              clearToken();
              navigate('/signin');
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {page ?? (
          <div class="card">
            <h1>Page not found</h1>
            <p>
              There is no page at <code>{loc.path}</code>. <Link href="/">Go to the fleet overview</Link>.
            </p>
          </div>
        )}
      </main>
    </>
  );
}
