// One device: facts, status and why, tags (editable), apps desired vs running, 24 h metric charts,
// its events, and an app's live logs.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, enc, send } from '../api';
import { chartedMetrics, series } from '../chart';
import { ConfirmButton, Empty, ErrorBanner, Link, Loading, Section, StatusBadge, TagList, Time, useAction, useTitle } from '../components';
import { bytes, dateTime, shortHex, shortSha, trustBadge } from '../format';
import { useGet, useNow, useThrottle } from '../hooks';
import { LineChart } from '../linechart';
import { useLive } from '../live';
import { followLogs, LogRecord } from '../logs';
import { navigate, useLocation, withQuery } from '../router';
import type { Attestation, Device, DeviceApp, DeviceMetrics, FleetEvent, Items, Tags } from '../types';

export function DevicePage({ id }: { id: string }) {
  const now = useNow();
  const device = useGet<Device>(`/api/v1/devices/${enc(id)}`);
  const apps = useGet<Items<DeviceApp>>(`/api/v1/devices/${enc(id)}/apps`);
  const events = useGet<Items<FleetEvent>>(`/api/v1/devices/${enc(id)}/events?limit=50`);
  useTitle(device.data?.name ?? 'Device');
  const refreshApps = useThrottle(apps.reload, 3000);

  useLive({
    device: (d: Device) => {
      if (d.id === id) {
        device.setData(() => d);
        refreshApps();
      }
    },
    'fleet-event': (e: FleetEvent) => {
      if (e.deviceId !== id) return;
      events.setData((old) => (old && !old.items.some((x) => x.id === e.id) ? { items: [e, ...old.items].slice(0, 50) } : old));
      if (e.app) refreshApps();
    },
    poll: () => {
      device.reload();
      apps.reload();
      events.reload();
    },
  });

  if (device.error && !device.data) {
    return (
      <div class="page">
        <h1>Device</h1>
        <ErrorBanner error={device.error.status === 404 ? `There is no device ${id}.` : device.error} onRetry={device.reload} />
        <p>
          <Link href="/devices">Back to the devices</Link>
        </p>
      </div>
    );
  }
  const d = device.data;
  if (!d) return <Loading />;
  const f = d.facts ?? {};
  return (
    <div class="page">
      <p class="small">
        <Link href="/devices">Devices</Link> /
      </p>
      <h1>
        {d.name} <StatusBadge status={d.status} testid="device-status" />
      </h1>
      <ErrorBanner error={device.error} onRetry={device.reload} />
      {d.status === 'PENDING' ? <Approval device={d} onChange={(nd) => device.setData(() => nd)} /> : null}
      <div class="grid2">
        <Section title="Status" id="status">
          <dl class="facts">
            <dt>Status</dt>
            <dd>
              {d.status}
              {d.statusSince ? (
                <span class="muted">
                  {' '}
                  since <Time iso={d.statusSince} now={now} />
                </span>
              ) : null}
            </dd>
            <dt>Why</dt>
            <dd data-testid="device-status-reason">{d.statusReason || '–'}</dd>
            <dt>Last seen</dt>
            <dd>
              <Time iso={d.lastSeen} now={now} />
            </dd>
            {d.enrollmentCode ? (
              <>
                <dt>Enrollment code</dt>
                <dd>
                  <code class="code">{d.enrollmentCode}</code>
                </dd>
              </>
            ) : null}
            <dt>Enrolled</dt>
            <dd>{dateTime(d.enrolledAt)}</dd>
            <dt>Certificate expires</dt>
            <dd>{dateTime(d.certificateExpiresAt)}</dd>
            <dt>Id</dt>
            <dd class="mono small">{d.id}</dd>
          </dl>
        </Section>
        <Section title="Facts" id="facts">
          <dl class="facts">
            <dt>Host</dt>
            <dd>{f.hostname ?? '–'}</dd>
            <dt>Serial</dt>
            <dd>{d.serial ?? f.serial ?? '–'}</dd>
            <dt>System</dt>
            <dd>{[f.os, f.osVersion, f.arch].filter(Boolean).join(' ') || '–'}</dd>
            <dt>CPUs / memory / disk</dt>
            <dd>
              {f.cpus ?? '–'} / {bytes(f.memoryBytes)} / {bytes(f.diskBytes)}
            </dd>
            <dt>Kubernetes</dt>
            <dd>{f.kubernetesVersion ?? (f.k3s ? 'k3s' : '–')}</dd>
            <dt>Agent</dt>
            <dd>{d.agentVersion ?? f.agentVersion ?? '–'}</dd>
            <dt>MAC</dt>
            <dd class="mono small">{f.macs?.join(', ') || '–'}</dd>
          </dl>
        </Section>
      </div>
      <TrustSection device={d} now={now} onChange={device.reload} />
      <TagEditor device={d} onSaved={(nd) => device.setData(() => nd)} />
      <Section title="Apps" id="apps">
        <ErrorBanner error={apps.error} onRetry={apps.reload} />
        {apps.data ? <AppTable apps={apps.data.items} now={now} /> : apps.loading ? <Loading /> : null}
      </Section>
      <Metrics id={id} />
      <div class="grid2">
        <Section title="Events" id="events">
          <ErrorBanner error={events.error} onRetry={events.reload} />
          <div data-testid="device-events">
            {events.data ? (
              events.data.items.length ? (
                <ol class="timeline">
                  {events.data.items.map((e) => (
                    <li key={e.id} class={e.severity ? `ev sev-${e.severity}` : 'ev'}>
                      <Time iso={e.at} now={now} /> <span class="kind">{e.kind}</span> {e.message}
                    </li>
                  ))}
                </ol>
              ) : (
                <Empty>The device reported no events.</Empty>
              )
            ) : events.loading ? (
              <Loading />
            ) : null}
          </div>
        </Section>
        <Logs id={id} apps={(apps.data?.items ?? []).map((a) => a.app)} />
      </div>
    </div>
  );
}

function AppTable({ apps, now }: { apps: DeviceApp[]; now: number }) {
  if (!apps.length) return <Empty>No app is desired on this device.</Empty>;
  return (
    <div class="table-wrap">
      <table data-testid="device-apps">
        <thead>
          <tr>
            <th scope="col">App</th>
            <th scope="col">State</th>
            <th scope="col">Desired</th>
            <th scope="col">Running</th>
            <th scope="col">Reported</th>
          </tr>
        </thead>
        <tbody>
          {apps.map((a) => (
            <tr key={a.app} data-testid={`device-app-${a.app}`}>
              <td>
                <strong>{a.app}</strong>
                <div class="muted small">{a.source}</div>
              </td>
              <td>
                <StatusBadge status={a.state} />
                {a.reason ? <div class="muted small">{a.reason}</div> : null}
                {a.drift ? (
                  <div class="small notice">
                    Repaired drift <Time iso={a.drift.at} now={now} />: {a.drift.message}
                  </div>
                ) : null}
              </td>
              <td class="mono small">
                {a.desiredRevision ?? '–'}
                {a.desiredCommit ? <div class="muted">commit {shortSha(a.desiredCommit)}</div> : null}
                {a.desiredSince ? (
                  <div class="muted">
                    since <Time iso={a.desiredSince} now={now} />
                  </div>
                ) : null}
              </td>
              <td class="mono small">
                {a.readyRevision ?? a.runningRevision ?? '–'}
                {a.runningRevision && a.readyRevision && a.runningRevision !== a.readyRevision ? (
                  <div class="muted">applying {a.runningRevision}</div>
                ) : null}
              </td>
              <td>
                <Time iso={a.reportedAt} now={now} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const RANGES = ['1h', '6h', '24h'];

function Metrics({ id }: { id: string }) {
  const loc = useLocation();
  const since = RANGES.includes(loc.query.get('since') ?? '') ? loc.query.get('since')! : '24h';
  const metrics = useGet<DeviceMetrics>(`/api/v1/devices/${enc(id)}/metrics?since=${since}`);
  // telemetry windows arrive a few times a minute at most: refresh the charts once a minute
  useEffect(() => {
    const t = setInterval(metrics.reload, 60000);
    return () => clearInterval(t);
  }, [metrics.reload]);
  const summaries = metrics.data?.summaries ?? [];
  const names = useMemo(() => chartedMetrics(summaries), [metrics.data]);
  const to = Date.now();
  const from = to - { '1h': 3600e3, '6h': 6 * 3600e3, '24h': 24 * 3600e3 }[since as '1h']!;
  return (
    <Section
      title="Metrics"
      id="metrics"
      actions={
        <div role="group" aria-label="Period">
          {RANGES.map((r) => (
            <button
              key={r}
              type="button"
              class={`btn small${r === since ? ' primary' : ''}`}
              aria-pressed={r === since}
              onClick={() => navigate(withQuery(loc.path, { since: r === '24h' ? '' : r }), { replace: true })}
            >
              {r}
            </button>
          ))}
        </div>
      }
    >
      <ErrorBanner error={metrics.error} onRetry={metrics.reload} />
      {metrics.data ? (
        names.length ? (
          <div class="charts" data-testid="device-metrics">
            {names.map((n) => (
              <LineChart key={n} metric={n} segments={series(summaries, n)} from={from} to={to} last={metrics.data?.latest?.metrics?.[n]?.last} />
            ))}
          </div>
        ) : (
          <Empty>The device sent no metrics in the last {since}.</Empty>
        )
      ) : metrics.loading ? (
        <Loading />
      ) : null}
    </Section>
  );
}

const MAX_LOG_LINES = 2000;

function Logs({ id, apps }: { id: string; apps: string[] }) {
  const [app, setApp] = useState('');
  const [records, setRecords] = useState<LogRecord[]>([]);
  const [running, setRunning] = useState(false);
  const [error, setError] = useState<ApiError | string | null>(null);
  const abort = useRef<AbortController | null>(null);
  const pre = useRef<HTMLPreElement>(null);
  const chosen = app || apps[0] || '';

  useEffect(() => () => abort.current?.abort(), []);
  useEffect(() => {
    const el = pre.current;
    if (el && el.scrollHeight - el.scrollTop - el.clientHeight < 80) el.scrollTop = el.scrollHeight;
  }, [records]);

  const start = () => {
    abort.current?.abort();
    const ctl = new AbortController();
    abort.current = ctl;
    setRecords([]);
    setError(null);
    setRunning(true);
    followLogs(id, chosen, 200, ctl.signal, (rs) => setRecords((old) => [...old, ...rs].slice(-MAX_LOG_LINES)))
      .catch((e) => {
        if (!ctl.signal.aborted) setError(e instanceof ApiError ? e : String(e));
      })
      .finally(() => {
        if (abort.current === ctl) setRunning(false);
      });
  };
  const stop = () => {
    abort.current?.abort();
    abort.current = null;
    setRunning(false);
  };

  return (
    <Section title="Logs" id="logs">
      {apps.length ? (
        <form
          class="inline"
          onSubmit={(e) => {
            e.preventDefault();
            start();
          }}
        >
          <label for="log-app">App</label>
          <select id="log-app" value={chosen} onChange={(e) => setApp((e.target as HTMLSelectElement).value)} data-testid="device-logs-app">
            {apps.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
          <button type="submit" class="btn primary small" data-testid="device-logs-open">
            {running ? 'Restart' : 'Follow logs'}
          </button>
          <button type="button" class="btn small" disabled={!running} onClick={stop} data-testid="device-logs-stop">
            Stop
          </button>
        </form>
      ) : (
        <Empty>No app to read logs of.</Empty>
      )}
      <ErrorBanner error={error} />
      {running || records.length ? (
        <pre class="logs" ref={pre} data-testid="device-logs" aria-live="off" tabIndex={0}>
          {records.map((r, i) =>
            r.error ? (
              <div key={i} class="log-error">
                stream ended: {r.error}
              </div>
            ) : r.note ? (
              <div key={i} class="log-note">
                note: {r.note}
              </div>
            ) : (
              <div key={i}>
                {r.at ? <span class="muted">{r.at.slice(11, 19)} </span> : null}
                {r.container ? `[${r.container}] ` : ''}
                {r.line}
              </div>
            ),
          )}
          {running && !records.length ? 'Waiting for the device…' : null}
        </pre>
      ) : null}
      {running ? <p class="hint">Following – new lines appear as the device sends them.</p> : null}
    </Section>
  );
}

function TagEditor({ device, onSaved }: { device: Device; onSaved: (d: Device) => void }) {
  const [editing, setEditing] = useState(false);
  const [rows, setRows] = useState<[string, string][]>([]);
  const [busy, error, run, clearError] = useAction();
  const begin = () => {
    setRows([...Object.entries(device.tags ?? {}), ['', '']]);
    clearError();
    setEditing(true);
  };
  const save = () =>
    run(async () => {
      const next: Tags = {};
      for (const [k, v] of rows) {
        const key = k.trim();
        if (!key) continue;
        if (key in next) throw new Error(`The tag ${key} is listed twice; keep one.`);
        next[key] = v.trim();
      }
      const set: Tags = {};
      for (const [k, v] of Object.entries(next)) if (device.tags?.[k] !== v) set[k] = v;
      const remove = Object.keys(device.tags ?? {}).filter((k) => !(k in next));
      if (!Object.keys(set).length && !remove.length) {
        setEditing(false);
        return;
      }
      const updated = await send<Device>('PATCH', `/api/v1/devices/${enc(device.id)}/tags`, { set, remove });
      onSaved(updated);
      setEditing(false);
    });
  const update = (i: number, col: 0 | 1, v: string) => setRows((rs) => rs.map((r, j) => (j === i ? ((col === 0 ? [v, r[1]] : [r[0], v]) as [string, string]) : r)));

  return (
    <Section
      title="Tags"
      id="tags"
      actions={
        !editing ? (
          <button type="button" class="btn small" onClick={begin} data-testid="tags-edit">
            Edit tags
          </button>
        ) : null
      }
    >
      {!editing ? (
        <TagList tags={device.tags} />
      ) : (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            save();
          }}
        >
          <ErrorBanner error={error} />
          <table>
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col">Value</th>
                <th scope="col">
                  <span class="sr-only">Remove</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map(([k, v], i) => (
                <tr key={i}>
                  <td>
                    <input aria-label="Tag key" value={k} spellcheck={false} onInput={(e) => update(i, 0, (e.target as HTMLInputElement).value)} data-testid={`tag-key-${i}`} />
                  </td>
                  <td>
                    <input aria-label="Tag value" value={v} spellcheck={false} onInput={(e) => update(i, 1, (e.target as HTMLInputElement).value)} data-testid={`tag-value-${i}`} />
                  </td>
                  <td>
                    <button type="button" class="btn small ghost" aria-label={`Remove tag ${k}`} onClick={() => setRows((rs) => rs.filter((_, j) => j !== i))}>
                      Remove
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <div class="actions">
            <button type="button" class="btn small" onClick={() => setRows((rs) => [...rs, ['', '']])}>
              Add tag
            </button>
            <button type="button" class="btn small ghost" onClick={() => setEditing(false)}>
              Cancel
            </button>
            <button type="submit" class="btn primary small" disabled={busy} data-testid="tags-save">
              Save tags
            </button>
          </div>
        </form>
      )}
    </Section>
  );
}

function Approval({ device, onChange }: { device: Device; onChange: (d: Device) => void }) {
  const [busy, error, run] = useAction();
  const act = (verb: 'approve' | 'reject') => run(() => send<Device>('POST', `/api/v1/devices/${enc(device.id)}/${verb}`).then(onChange));
  return (
    <div class="notice">
      <p>
        This device asks to join with enrollment code <code class="code">{device.enrollmentCode ?? '–'}</code>. Approve it only if the device
        shows the same code.
      </p>
      <ErrorBanner error={error} />
      <div class="actions-row">
        <button type="button" class="btn primary" disabled={busy} onClick={() => act('approve')} data-testid={`approve-${device.id}`}>
          Approve
        </button>
        <ConfirmButton
          label="Reject"
          question={`Reject ${device.name}?`}
          detail="It will not be able to enroll with this key."
          danger
          disabled={busy}
          testid={`reject-${device.id}`}
          onConfirm={() => act('reject')}
        />
      </div>
    </div>
  );
}

/** Identity and trust; for a device with a TPM, its PCRs and boot events against its reference. */
function TrustSection({ device, now, onChange }: { device: Device; now: number; onChange: () => void }) {
  const t = device.trust;
  const tpm = (t?.identity ?? device.identity) === 'tpm';
  const att = useGet<Attestation>(tpm ? `/api/v1/devices/${enc(device.id)}/attestation` : null);
  // the trust of the device changed (a quote, a quarantine): its measurements did too
  const key = `${t?.state}|${t?.since}|${t?.lastAttested}`;
  const first = useRef(key);
  useEffect(() => {
    if (tpm && first.current !== key) att.reload();
    first.current = key;
  }, [key]);
  const [busy, error, run] = useAction();
  const accept = () =>
    run(() =>
      send<Attestation>('POST', `/api/v1/devices/${enc(device.id)}/attestation/accept`).then((a) => {
        att.setData(() => a);
        onChange();
      }),
    );
  const b = trustBadge(t);
  return (
    <Section
      title="Identity & trust"
      id="trust"
      actions={
        t?.state === 'QUARANTINED' ? (
          <ConfirmButton
            label="Accept measurements"
            question={`Accept the measurements of ${device.name}?`}
            detail="Its current PCR values and boot events become its reference, the quarantine ends and it gets desired state again. Accept only a boot change you expect, such as a firmware or boot loader update."
            small
            disabled={busy}
            testid="trust-accept"
            onConfirm={accept}
          />
        ) : null
      }
    >
      <ErrorBanner error={error} />
      <dl class="facts">
        <dt>Identity</dt>
        <dd data-testid="device-identity">{tpm ? 'TPM 2.0 key' : (t?.identity ?? device.identity) === 'software' ? 'software key' : '–'}</dd>
        <dt>Trust</dt>
        <dd>
          <span class={b.cls} title={b.title} data-testid="device-trust">
            {t?.state ?? b.label}
          </span>
        </dd>
        {t?.reason ? (
          <>
            <dt>Why</dt>
            <dd data-testid="device-trust-reason">{t.reason}</dd>
          </>
        ) : null}
        <dt>Since</dt>
        <dd>
          <Time iso={t?.since} now={now} />
        </dd>
        <dt>Last attested</dt>
        <dd>
          <Time iso={t?.lastAttested} now={now} />
        </dd>
        {att.data?.referenceOrigin ? (
          <>
            <dt>Reference</dt>
            <dd>
              {att.data.referenceOrigin}
              {att.data.referenceAt ? <span class="muted"> ({dateTime(att.data.referenceAt)})</span> : null}
            </dd>
          </>
        ) : null}
        {att.data?.ekIssuer ? (
          <>
            <dt>EK issuer</dt>
            <dd class="small">{att.data.ekIssuer}</dd>
          </>
        ) : null}
      </dl>
      {tpm ? <ErrorBanner error={att.error} onRetry={att.reload} /> : null}
      {att.data ? <Measurements att={att.data} /> : tpm && att.loading ? <Loading /> : null}
    </Section>
  );
}

function Measurements({ att }: { att: Attestation }) {
  return (
    <>
      {att.pcrs.length ? (
        <div class="table-wrap">
          <table data-testid="device-pcrs">
            <thead>
              <tr>
                <th scope="col">PCR</th>
                <th scope="col">Reference</th>
                <th scope="col">Current</th>
                <th scope="col">
                  <span class="sr-only">Differs</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {att.pcrs.map((p) => (
                <tr key={p.index} class={p.differs ? 'differs' : undefined} data-testid={`pcr-${p.index}`} data-differs={p.differs ? 'true' : 'false'}>
                  <td>{p.index}</td>
                  <td class="mono small" title={p.reference}>
                    {shortHex(p.reference)}
                  </td>
                  <td class="mono small" title={p.current}>
                    {shortHex(p.current)}
                  </td>
                  <td>{p.differs ? <strong>differs</strong> : <span class="muted">same</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <Empty>No verified quote yet.</Empty>
      )}
      {att.events.length ? (
        <div class="table-wrap">
          <table data-testid="device-boot-events">
            <caption class="small">Boot events that differ from the reference</caption>
            <thead>
              <tr>
                <th scope="col">PCR</th>
                <th scope="col">Event</th>
                <th scope="col">Change</th>
                <th scope="col">Reference</th>
                <th scope="col">Current</th>
              </tr>
            </thead>
            <tbody>
              {att.events.map((e, i) => (
                <tr key={i}>
                  <td>{e.pcr}</td>
                  <td>{e.index}</td>
                  <td>
                    <StatusBadge status={e.change} />
                  </td>
                  <td class="small">{bootEvent(e.reference)}</td>
                  <td class="small">{bootEvent(e.current)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </>
  );
}

function bootEvent(e: Attestation['events'][number]['reference']) {
  if (!e) return <span class="muted">–</span>;
  return (
    <>
      {e.type ?? '–'}
      {e.description ? <div class="muted">{e.description}</div> : null}
      <div class="mono muted" title={e.sha256}>
        {shortHex(e.sha256)}
      </div>
    </>
  );
}
