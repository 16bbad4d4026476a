// Fleet overview: the summary sentence, counts by status, a breakdown by one tag, the devices
// offline the longest, firing alerts, rollouts in flight and the newest fleet events.
import { useMemo } from 'preact/hooks';
import { q } from '../api';
import { Empty, ErrorBanner, Link, Loading, Section, StatusBadge, Time, useTitle } from '../components';
import { count, eventText } from '../format';
import { useGet, useNow, useThrottle } from '../hooks';
import { useLive } from '../live';
import { navigate, useLocation, withQuery } from '../router';
import type { Alert, DevicePage, EventPageT, FleetCounts, FleetEvent, FleetSummary, Items, Rollout, RolloutSummary } from '../types';
import { ACTIVE_ROLLOUT_STATES, batchText, mergeRollout } from './rollouts';

const COUNT_FIELDS: [string, keyof FleetCounts][] = [
  ['ONLINE', 'online'],
  ['DEGRADED', 'degraded'],
  ['ERROR', 'error'],
  ['OFFLINE', 'offline'],
  ['NEVER_SEEN', 'neverSeen'],
  ['PENDING', 'pending'],
  ['REJECTED', 'rejected'],
  ['DECOMMISSIONED', 'decommissioned'],
];

export function FleetPage() {
  useTitle('Fleet');
  const now = useNow();
  const loc = useLocation();
  const by = loc.query.get('by') ?? '';
  const summary = useGet<FleetSummary>('/api/v1/fleet/summary');
  const groups = useGet<FleetSummary>(by ? `/api/v1/fleet/summary${q({ by })}` : null);
  const offline = useGet<DevicePage>('/api/v1/devices?status=OFFLINE&sort=lastSeen&limit=10&count=true');
  const sample = useGet<DevicePage>('/api/v1/devices?limit=200');
  const alerts = useGet<Items<Alert>>('/api/v1/alerts?state=firing&limit=10');
  const rollouts = useGet<Items<RolloutSummary>>('/api/v1/rollouts?limit=50');
  const events = useGet<EventPageT>('/api/v1/events?limit=15&since=24h');

  const refreshLists = useThrottle(() => {
    offline.reload();
    if (by) groups.reload();
    alerts.reload();
  }, 5000);

  useLive({
    summary: (s: FleetSummary) => {
      summary.setData(() => s);
      refreshLists();
    },
    rollout: (r: Rollout) => rollouts.setData((old) => (old ? { items: mergeRollout(old.items, r) } : old)),
    'fleet-event': (e: FleetEvent) => {
      events.setData((old) =>
        old && !old.items.some((x) => x.id === e.id) ? { ...old, items: [...old.items, e].sort((a, b) => a.at.localeCompare(b.at)).slice(-15) } : old,
      );
      refreshLists(); // alerts fire and resolve without changing the summary
    },
    poll: () => {
      summary.reload();
      rollouts.reload();
      events.reload();
      refreshLists();
    },
  });

  const tagKeys = useMemo(() => {
    const keys = new Set<string>();
    for (const d of sample.data?.items ?? []) Object.keys(d.tags ?? {}).forEach((k) => keys.add(k));
    return [...keys].sort();
  }, [sample.data]);

  const longestOffline = useMemo(() => {
    const items = [...(offline.data?.items ?? [])];
    // a controller that does not sort yet answers in enrollment order: the oldest lastSeen first
    items.sort((a, b) => (a.lastSeen ?? '').localeCompare(b.lastSeen ?? ''));
    return items.slice(0, 10);
  }, [offline.data]);

  const inFlight = (rollouts.data?.items ?? []).filter((r) => ACTIVE_ROLLOUT_STATES.includes(r.state));
  const s = summary.data;

  return (
    <div class="page">
      <h1>Fleet</h1>
      <ErrorBanner error={summary.error} onRetry={summary.reload} />
      {s ? (
        <>
          <p class="sentence" data-testid="fleet-sentence">
            {s.sentence}
          </p>
          <div class="counts" role="list" aria-label="Devices by status">
            {COUNT_FIELDS.map(([status, field]) => {
              const n = s[field] as number;
              const minor = (status === 'REJECTED' || status === 'DECOMMISSIONED') && !n;
              return (
                <Link
                  key={status}
                  count={n}
                  href={`/devices?status=${status}`}
                  class={`count s-${status.toLowerCase()}${minor ? ' minor' : ''}`}
                  testid={`status-count-${status}`}
                  title={`Show the ${status.toLowerCase().replace('_', ' ')} devices`}
                >
                  <span class="n">{count(n)}</span>
                  <span class="label">{status.replace('_', ' ').toLowerCase()}</span>
                </Link>
              );
            })}
          </div>
          {s.quarantined !== undefined ? (
            <div class="counts" role="list" aria-label="Devices with a TPM by trust">
              <div role="listitem" class={`count s-quarantined${s.quarantined ? '' : ' minor'}`} data-testid="trust-count-QUARANTINED" title="Devices with a TPM whose measured boot differs from their reference: nothing new is delivered to them">
                <span class="n">{count(s.quarantined)}</span>
                <span class="label">quarantined</span>
              </div>
              {s.trusted !== undefined ? (
                <div role="listitem" class="count s-trusted" data-testid="trust-count-TRUSTED" title="Devices with a TPM whose last quote matched their reference">
                  <span class="n">{count(s.trusted)}</span>
                  <span class="label">trusted</span>
                </div>
              ) : null}
            </div>
          ) : null}
          <p class="muted small">
            {count(s.enrolled)} enrolled of {count(s.total)} devices · {count(s.maintenance)} in maintenance ·{' '}
            {count(s.updating)} updating
          </p>
        </>
      ) : summary.loading ? (
        <Loading />
      ) : null}

      <div class="grid2">
        <Section
          title="Breakdown by tag"
          id="breakdown"
          actions={
            <form
              class="inline"
              onSubmit={(e) => {
                e.preventDefault();
                const v = ((e.currentTarget as HTMLFormElement).elements.namedItem('by') as HTMLInputElement).value.trim();
                navigate(withQuery('/', { by: v }), { replace: true });
              }}
            >
              <label for="by">Tag key</label>
              <input id="by" name="by" list="tag-keys" value={by} placeholder="e.g. site" size={12} data-testid="fleet-by" />
              <datalist id="tag-keys">
                {tagKeys.map((k) => (
                  <option key={k} value={k} />
                ))}
              </datalist>
              <button class="btn small" type="submit">
                Show
              </button>
            </form>
          }
        >
          {!by ? (
            tagKeys.length ? (
              <p class="muted">
                Choose a tag key to see the fleet per value:{' '}
                {tagKeys.slice(0, 8).map((k) => (
                  <button key={k} type="button" class="chip" onClick={() => navigate(withQuery('/', { by: k }), { replace: true })}>
                    {k}
                  </button>
                ))}
              </p>
            ) : (
              <Empty>No device has tags yet.</Empty>
            )
          ) : (
            <>
              <ErrorBanner error={groups.error} onRetry={groups.reload} />
              {groups.data ? <GroupTable by={by} summary={groups.data} /> : groups.loading ? <Loading /> : null}
            </>
          )}
        </Section>

        <Section title="Offline the longest" id="offline" actions={<Link href="/devices?status=OFFLINE&sort=lastSeen">All offline</Link>}>
          <ErrorBanner error={offline.error} onRetry={offline.reload} />
          {offline.data ? (
            longestOffline.length ? (
              <ul class="plain">
                {longestOffline.map((d) => (
                  <li key={d.id}>
                    <Link href={`/devices/${encodeURIComponent(d.id)}`}>{d.name}</Link>{' '}
                    <span class="muted">
                      last seen <Time iso={d.lastSeen} now={now} />
                    </span>
                  </li>
                ))}
              </ul>
            ) : (
              <Empty>No device is offline.</Empty>
            )
          ) : offline.loading ? (
            <Loading />
          ) : null}
        </Section>

        <Section title="Firing alerts" id="alerts" actions={<Link href="/alerts">All alerts</Link>}>
          <ErrorBanner error={alerts.error} onRetry={alerts.reload} />
          {alerts.data ? (
            alerts.data.items.length ? (
              <ul class="plain">
                {alerts.data.items.map((a) => (
                  <li key={a.fingerprint}>
                    <span class={`sev sev-${a.severity}`}>{a.severity}</span> {a.summary ?? a.rule}{' '}
                    <span class="muted">
                      since <Time iso={a.firedAt ?? a.since} now={now} />
                    </span>
                  </li>
                ))}
              </ul>
            ) : (
              <Empty>No alert is firing.</Empty>
            )
          ) : alerts.loading ? (
            <Loading />
          ) : null}
        </Section>

        <Section title="Rollouts in flight" id="inflight" actions={<Link href="/rollouts">All rollouts</Link>}>
          <ErrorBanner error={rollouts.error} onRetry={rollouts.reload} />
          {rollouts.data ? (
            inFlight.length ? (
              <ul class="plain">
                {inFlight.map((r) => (
                  <li key={r.id}>
                    <Link href={`/rollouts/${encodeURIComponent(r.id)}`}>{r.app}</Link> <StatusBadge status={r.state} />{' '}
                    <span class="muted">
                      batch {batchText(r)}
                      {r.reason ? ` · ${r.reason}` : ''}
                    </span>
                  </li>
                ))}
              </ul>
            ) : (
              <Empty>No rollout is in flight.</Empty>
            )
          ) : rollouts.loading ? (
            <Loading />
          ) : null}
        </Section>
      </div>

      <Section title="Recent events" id="events">
        <ErrorBanner error={events.error} onRetry={events.reload} />
        {events.data ? <EventList events={events.data.items} now={now} /> : events.loading ? <Loading /> : null}
      </Section>
    </div>
  );
}

function GroupTable({ by, summary }: { by: string; summary: FleetSummary }) {
  const groups = summary.groups ?? [];
  if (!groups.length) return <Empty>No device matches.</Empty>;
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">{by}</th>
            <th scope="col" class="num">Enrolled</th>
            <th scope="col" class="num">Operational</th>
            <th scope="col" class="num">Degraded</th>
            <th scope="col" class="num">Error</th>
            <th scope="col" class="num">Offline</th>
          </tr>
        </thead>
        <tbody>
          {groups.map((g) => (
            <tr key={g.value ?? '\u0000'}>
              <td>
                <Link href={withQuery('/devices', { selector: g.value === undefined ? `!${by}` : `${by}=${g.value}` })}>
                  {g.value ?? <em class="muted">no {by} tag</em>}
                </Link>
              </td>
              <td class="num">{count(g.enrolled)}</td>
              <td class="num">{g.operationalPercent.toFixed(1)} %</td>
              <td class="num">{count(g.degraded)}</td>
              <td class="num">{count(g.error)}</td>
              <td class="num">{count(g.offline)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function EventList({ events, now, showDevice = true }: { events: FleetEvent[]; now: number; showDevice?: boolean }) {
  if (!events.length) return <Empty>No events in this period.</Empty>;
  const newestFirst = [...events].sort((a, b) => b.at.localeCompare(a.at));
  return (
    <ol class="timeline">
      {newestFirst.map((e) => (
        <li key={e.id} class={`ev sev-${e.severity}`}>
          <Time iso={e.at} now={now} /> <span class="kind">{e.kind}</span> {eventText(e.kind, e.message)}{' '}
          {showDevice && e.deviceId ? (
            <Link href={`/devices/${encodeURIComponent(e.deviceId)}`} class="muted">
              device
            </Link>
          ) : null}
          {e.rolloutId ? (
            <>
              {' '}
              <Link href={`/rollouts/${encodeURIComponent(e.rolloutId)}`} class="muted">
                rollout
              </Link>
            </>
          ) : null}
        </li>
      ))}
    </ol>
  );
}
