// Devices: the filtered, sorted table in server-side pages of 50, and the devices waiting for
// approval. Rows follow `device` messages of the live stream.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { enc, get, send } from '../api';
import { ConfirmButton, Empty, ErrorBanner, Link, Loading, Section, StatusBadge, TagList, Time, useAction, useTitle } from '../components';
import { DeviceQuery, PAGE_SIZE, SortKey, deviceApiUrl, deviceQueryUrl, nextSort, parseDeviceQuery, rangeText } from '../devicequery';
import { dateTime, trustBadge } from '../format';
import { useGet, useNow, useThrottle } from '../hooks';
import { useLive } from '../live';
import { navigate, useLocation } from '../router';
import { STATUSES } from '../types';
import type { Device, DeviceApp, DevicePage, Items } from '../types';

const COLUMNS: [SortKey | null, string][] = [
  ['name', 'Device'],
  ['status', 'Status'],
  [null, 'Trust'],
  [null, 'Tags'],
  ['lastSeen', 'Last seen'],
  [null, 'Apps'],
];

function compare(a: Device, b: Device, sort: string): number {
  const key = sort.replace(/^-/, '') as SortKey;
  const va = String((a as unknown as Record<string, unknown>)[key] ?? '');
  const vb = String((b as unknown as Record<string, unknown>)[key] ?? '');
  return (sort.startsWith('-') ? -1 : 1) * va.localeCompare(vb);
}

export function DevicesPage() {
  useTitle('Devices');
  const now = useNow();
  const loc = useLocation();
  const query = parseDeviceQuery(loc.query);
  const go = (q: Partial<DeviceQuery>, replace = false) => navigate(deviceQueryUrl({ ...query, page: 0, ...q }), { replace });

  // Without offset and total (an older controller), pages are followed by cursor: remember them.
  const legacy = useRef(false);
  const cursors = useRef<{ key: string; list: (string | undefined)[] }>({ key: '', list: [undefined] });
  const filterKey = `${query.selector}|${query.status}|${query.sort}`;
  if (cursors.current.key !== filterKey) cursors.current = { key: filterKey, list: [undefined] };
  const cursor = legacy.current ? cursors.current.list[query.page] : undefined;
  const lostCursor = legacy.current && query.page > 0 && cursor === undefined;
  useEffect(() => {
    if (lostCursor) go({ page: 0 }, true);
  }, [lostCursor]);

  const page = useGet<DevicePage>(lostCursor ? null : deviceApiUrl(query, cursor));
  const pending = useGet<Items<Device>>('/api/v1/devices?status=PENDING&limit=100');
  useEffect(() => {
    if (!page.data) return;
    legacy.current = page.data.total === undefined;
    if (!legacy.current) return;
    // an offset the controller ignored (a bookmarked page): start over from the first page
    if (query.page > 0 && cursor === undefined) go({ page: 0 }, true);
    else cursors.current.list[query.page + 1] = page.data.next;
  }, [page.data]);

  const reloadPending = useThrottle(pending.reload, 2000);
  const reloadPage = useThrottle(page.reload, 5000);
  useLive({
    device: (d: Device) => {
      if (page.data?.items.some((x) => x.id === d.id)) page.setData((old) => old && { ...old, items: old.items.map((x) => (x.id === d.id ? d : x)) });
      else if (d.status !== 'PENDING') reloadPage(); // a new device, or one that may now match the filters
      if (d.status === 'PENDING' || pending.data?.items.some((x) => x.id === d.id)) reloadPending();
    },
    poll: () => {
      page.reload();
      pending.reload();
    },
  });

  const rows = useMemo(() => {
    const items = page.data?.items ?? [];
    return page.data && page.data.total === undefined && query.sort ? [...items].sort((a, b) => compare(a, b, query.sort)) : items;
  }, [page.data, query.sort]);
  const apps = useDeviceApps(rows.map((d) => d.id));

  const [selectorText, setSelectorText] = useState(query.selector);
  useEffect(() => setSelectorText(query.selector), [query.selector]);

  const total = page.data?.total;
  const hasNext = total !== undefined ? (query.page + 1) * PAGE_SIZE < total : !!page.data?.next;
  const pendingItems = pending.data?.items ?? [];

  return (
    <div class="page">
      <h1>Devices</h1>
      {pendingItems.length ? <PendingDevices devices={pendingItems} now={now} onChange={() => (pending.reload(), page.reload())} /> : null}
      <ErrorBanner error={pending.error} onRetry={pending.reload} />

      <form
        class="filters"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          go({ selector: selectorText.trim() });
        }}
      >
        <div class="field grow">
          <label for="selector">Tag selector</label>
          <input
            id="selector"
            type="search"
            spellcheck={false}
            placeholder="site=berlin,env in (prod,stage)"
            value={selectorText}
            onInput={(e) => setSelectorText((e.target as HTMLInputElement).value)}
            data-testid="devices-filter-selector"
          />
        </div>
        <div class="field">
          <label for="status">Status</label>
          <select id="status" value={query.status} onChange={(e) => go({ status: (e.target as HTMLSelectElement).value })} data-testid="devices-filter-status">
            <option value="">Any status</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" class="btn primary">
          Filter
        </button>
        {query.selector || query.status ? (
          <button type="button" class="btn ghost" onClick={() => go({ selector: '', status: '' })}>
            Clear
          </button>
        ) : null}
      </form>
      <p class="hint">
        Selector syntax: <code>k=v</code>, <code>k!=v</code>, <code>k in (a,b)</code>, <code>k notin (a,b)</code>, <code>k</code>, <code>!k</code>,
        joined by commas.
      </p>

      <ErrorBanner error={page.error} onRetry={page.reload} />
      <div class="table-wrap">
        <table data-testid="devices-table" aria-busy={page.loading ? 'true' : 'false'}>
          <thead>
            <tr>
              {COLUMNS.map(([key, label]) => {
                if (!key) return <th scope="col" key={label}>{label}</th>;
                const dir = query.sort === key ? 'ascending' : query.sort === `-${key}` ? 'descending' : undefined;
                return (
                  <th scope="col" key={label} aria-sort={dir ?? 'none'}>
                    <button type="button" class="sort" onClick={() => go({ sort: nextSort(query.sort, key) })} data-testid={`devices-sort-${key}`}>
                      {label}
                      <span aria-hidden="true" class="arrow">
                        {dir === 'ascending' ? '▲' : dir === 'descending' ? '▼' : '↕'}
                      </span>
                    </button>
                  </th>
                );
              })}
            </tr>
          </thead>
          <tbody>
            {rows.map((d) => (
              <tr key={d.id} data-testid={`device-row-${d.id}`} data-status={d.status}>
                <td>
                  <Link href={`/devices/${enc(d.id)}`}>{d.name}</Link>
                  <div class="muted mono small">{d.id}</div>
                </td>
                <td>
                  <StatusBadge status={d.status} />
                  {d.statusReason ? <div class="muted small">{d.statusReason}</div> : null}
                </td>
                <td>
                  <TrustBadge device={d} />
                </td>
                <td>
                  <TagList tags={d.tags} />
                </td>
                <td>
                  <Time iso={d.lastSeen} now={now} />
                </td>
                <td>
                  <AppStates apps={apps[d.id]} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {page.data && !rows.length ? (
        <Empty>{query.selector || query.status ? 'No device matches these filters.' : 'No devices yet. Enroll one with an onboarding token: edgefleet onboarding create.'}</Empty>
      ) : null}
      {page.loading && !page.data ? <Loading /> : null}

      <nav class="pager" aria-label="Pages">
        <button type="button" class="btn" disabled={query.page === 0} onClick={() => go({ page: query.page - 1 })} data-testid="devices-pager-prev">
          ← Previous
        </button>
        <span data-testid="devices-total" data-total={total} aria-live="polite">
          {page.data ? rangeText(query.page, rows.length, total) : ''}
        </span>
        <button type="button" class="btn" disabled={!hasNext} onClick={() => go({ page: query.page + 1 })} data-testid="devices-pager-next">
          Next →
        </button>
      </nav>
    </div>
  );
}

function TrustBadge({ device }: { device: Device }) {
  const b = trustBadge(device.trust);
  return (
    <span class={b.cls} title={b.title} data-testid={`device-trust-${device.id}`}>
      {b.label}
    </span>
  );
}

function AppStates({ apps }: { apps: DeviceApp[] | undefined }) {
  if (!apps) return <span class="muted">…</span>;
  if (!apps.length) return <span class="muted">none</span>;
  return (
    <span class="tags">
      {apps.map((a) => (
        <span key={a.app} class={`app-state st-${a.state.toLowerCase()}`} title={`${a.app}: ${a.state}${a.reason ? ` – ${a.reason}` : ''}`}>
          {a.app}
        </span>
      ))}
    </span>
  );
}

/** The apps of the devices shown, fetched a few at a time and kept for 30 s. */
function useDeviceApps(ids: string[]): Record<string, DeviceApp[]> {
  const cache = useRef(new Map<string, { at: number; apps: DeviceApp[] }>());
  const [, setVersion] = useState(0);
  const key = ids.join(',');
  useEffect(() => {
    let cancelled = false;
    const todo = ids.filter((id) => {
      const c = cache.current.get(id);
      return !c || Date.now() - c.at > 30000;
    });
    const worker = async () => {
      while (!cancelled && todo.length) {
        const id = todo.shift()!;
        try {
          const r = await get<Items<DeviceApp>>(`/api/v1/devices/${enc(id)}/apps`);
          cache.current.set(id, { at: Date.now(), apps: r.items });
        } catch {
          cache.current.set(id, { at: Date.now(), apps: [] });
        }
        if (!cancelled) setVersion((v) => v + 1);
      }
    };
    for (let i = 0; i < 4; i++) worker();
    return () => {
      cancelled = true;
    };
  }, [key]);
  const out: Record<string, DeviceApp[]> = {};
  for (const id of ids) {
    const c = cache.current.get(id);
    if (c) out[id] = c.apps;
  }
  return out;
}

function PendingDevices({ devices, now, onChange }: { devices: Device[]; now: number; onChange: () => void }) {
  const [busy, error, run] = useAction();
  const act = (d: Device, verb: 'approve' | 'reject') => run(() => send('POST', `/api/v1/devices/${enc(d.id)}/${verb}`).then(onChange));
  return (
    <Section title={`Waiting for approval (${devices.length})`} id="pending">
      <p class="hint">Compare the enrollment code with the one the device shows before approving it.</p>
      <ErrorBanner error={error} />
      <div class="table-wrap">
        <table data-testid="pending-table">
          <thead>
            <tr>
              <th scope="col">Device</th>
              <th scope="col">Enrollment code</th>
              <th scope="col">Facts</th>
              <th scope="col">Asked</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {devices.map((d) => (
              <tr key={d.id} data-testid={`pending-row-${d.id}`}>
                <td>
                  <Link href={`/devices/${enc(d.id)}`}>{d.name}</Link>
                  <div>
                    <TagList tags={d.tags} />
                  </div>
                </td>
                <td>
                  <code class="code">{d.enrollmentCode ?? '–'}</code>
                </td>
                <td class="small">
                  {[d.facts?.hostname, d.facts?.serial && `serial ${d.facts.serial}`, d.facts?.arch, d.facts?.os].filter(Boolean).join(' · ') || '–'}
                </td>
                <td>
                  <Time iso={d.createdAt} now={now} />
                </td>
                <td class="actions">
                  <button type="button" class="btn primary small" disabled={busy} onClick={() => act(d, 'approve')} data-testid={`approve-${d.id}`}>
                    Approve
                  </button>
                  <ConfirmButton
                    label="Reject"
                    question={`Reject ${d.name}?`}
                    detail={`The device asked ${dateTime(d.createdAt)} with code ${d.enrollmentCode ?? '–'}. It will not be able to enroll with this key.`}
                    danger
                    small
                    disabled={busy}
                    testid={`reject-${d.id}`}
                    onConfirm={() => act(d, 'reject')}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Section>
  );
}
