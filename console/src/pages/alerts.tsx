// Alerts: the alerts (firing first), the rules that raise them and the receivers they go to.
import { enc, q } from '../api';
import { Empty, ErrorBanner, Link, Loading, Section, StatusBadge, Time, useTitle } from '../components';
import { count } from '../format';
import { useGet, useNow, useThrottle } from '../hooks';
import { useLive } from '../live';
import { navigate, useLocation, withQuery } from '../router';
import type { Alert, Items } from '../types';

interface Rule {
  id: string;
  name: string;
  type: string;
  selector?: string;
  app?: string;
  mount?: string;
  for?: string;
  within?: string;
  percent?: number;
  severity?: string;
  receivers?: string[];
  repeat?: string;
  createdBy?: string;
  createdAt?: string;
}

interface Receiver {
  id: string;
  name: string;
  format?: string;
  url?: string;
  customCa?: boolean;
  createdBy?: string;
  createdAt?: string;
}

function condition(r: Rule): string {
  const parts = [
    r.selector && `devices ${r.selector}`,
    r.app && `app ${r.app}`,
    r.mount && `mount ${r.mount}`,
    r.percent !== undefined && `at ${r.percent} %`,
    r.within && `within ${r.within}`,
    r.for && `for ${r.for}`,
    r.repeat && `repeat every ${r.repeat}`,
  ];
  return parts.filter(Boolean).join(', ') || 'every device';
}

const STATES = ['', 'firing', 'pending', 'resolved', 'all'];

export function AlertsPage() {
  useTitle('Alerts');
  const now = useNow();
  const loc = useLocation();
  const state = STATES.includes(loc.query.get('state') ?? '') ? loc.query.get('state') ?? '' : '';
  const alerts = useGet<Items<Alert>>(`/api/v1/alerts${q({ state, limit: 200 })}`);
  const rules = useGet<Items<Rule>>('/api/v1/alerts/rules');
  const receivers = useGet<Items<Receiver>>('/api/v1/alerts/receivers');
  const refresh = useThrottle(alerts.reload, 5000);
  useLive({ summary: refresh, 'fleet-event': refresh, poll: alerts.reload });

  return (
    <div class="page">
      <h1>Alerts</h1>
      <Section
        title="Alerts"
        id="alerts"
        actions={
          <>
            <label for="astate" class="sr-only">
              Which alerts
            </label>
            <select id="astate" value={state} onChange={(e) => navigate(withQuery('/alerts', { state: (e.target as HTMLSelectElement).value }), { replace: true })}>
              <option value="">Firing, pending and resolved today</option>
              <option value="firing">Firing</option>
              <option value="pending">Pending</option>
              <option value="resolved">Resolved</option>
              <option value="all">All</option>
            </select>
          </>
        }
      >
        <ErrorBanner error={alerts.error} onRetry={alerts.reload} />
        {alerts.data ? (
          alerts.data.items.length ? (
            <div class="table-wrap">
              <table data-testid="alerts-table">
                <thead>
                  <tr>
                    <th scope="col">State</th>
                    <th scope="col">Alert</th>
                    <th scope="col">Subject</th>
                    <th scope="col">Since</th>
                    <th scope="col">Notifications</th>
                  </tr>
                </thead>
                <tbody>
                  {alerts.data.items.map((a) => (
                    <tr key={a.fingerprint} data-testid={`alert-row-${a.fingerprint}`} data-state={a.state}>
                      <td>
                        <StatusBadge status={a.state} /> <span class={`sev sev-${a.severity}`}>{a.severity}</span>
                      </td>
                      <td>
                        <strong>{a.summary ?? a.rule}</strong>
                        {a.description ? <div class="small muted">{a.description}</div> : null}
                        <div class="small muted">rule {a.rule}</div>
                      </td>
                      <td class="small">
                        {a.deviceId ? <Link href={`/devices/${enc(a.deviceId)}`}>{a.subject}</Link> : a.subject.startsWith('rollout/') ? <Link href={`/${a.subject.replace('rollout/', 'rollouts/')}`}>{a.subject}</Link> : a.subject}
                      </td>
                      <td>
                        <Time iso={a.state === 'RESOLVED' ? a.resolvedAt : a.firedAt ?? a.since} now={now} />
                      </td>
                      <td class="small">
                        {a.delivery ? `${count(a.delivery.sent ?? 0)} sent${a.delivery.pending ? `, ${count(a.delivery.pending)} pending` : ''}${a.delivery.failed ? `, ${count(a.delivery.failed)} given up` : ''}` : '–'}
                        {a.delivery?.lastError ? <div class="error-text">{a.delivery.lastError}</div> : null}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : (
            <Empty>{state ? `No ${state === 'all' ? '' : `${state} `}alerts.` : 'No alert is firing or pending, and none resolved today.'}</Empty>
          )
        ) : alerts.loading ? (
          <Loading />
        ) : null}
      </Section>
      <div class="grid2">
        <Section title="Rules" id="rules">
          <ErrorBanner error={rules.error} onRetry={rules.reload} />
          {rules.data ? (
            rules.data.items.length ? (
              <div class="table-wrap">
                <table data-testid="rules-table">
                  <thead>
                    <tr>
                      <th scope="col">Rule</th>
                      <th scope="col">When</th>
                      <th scope="col">To</th>
                    </tr>
                  </thead>
                  <tbody>
                    {rules.data.items.map((r) => (
                      <tr key={r.id}>
                        <td>
                          <strong>{r.name}</strong> <span class={`sev sev-${r.severity ?? 'warning'}`}>{r.severity ?? 'warning'}</span>
                          <div class="small muted mono">{r.type}</div>
                        </td>
                        <td class="small">{condition(r)}</td>
                        <td class="small">{r.receivers?.length ? r.receivers.join(', ') : 'every receiver'}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            ) : (
              <Empty>No alert rules. Add one with: edgefleet alerts rules add NAME --type TYPE</Empty>
            )
          ) : rules.loading ? (
            <Loading />
          ) : null}
        </Section>
        <Section title="Receivers" id="receivers">
          <ErrorBanner error={receivers.error} onRetry={receivers.reload} />
          {receivers.data ? (
            receivers.data.items.length ? (
              <div class="table-wrap">
                <table data-testid="receivers-table">
                  <thead>
                    <tr>
                      <th scope="col">Receiver</th>
                      <th scope="col">Format</th>
                      <th scope="col">URL</th>
                    </tr>
                  </thead>
                  <tbody>
                    {receivers.data.items.map((r) => (
                      <tr key={r.id}>
                        <td>
                          <strong>{r.name}</strong>
                        </td>
                        <td>{r.format ?? 'generic'}</td>
                        <td class="small mono">
                          {r.url}
                          {r.customCa ? <span class="muted"> (own CA)</span> : null}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            ) : (
              <Empty>No receivers: alerts are shown here but not sent anywhere.</Empty>
            )
          ) : receivers.loading ? (
            <Loading />
          ) : null}
        </Section>
      </div>
    </div>
  );
}
