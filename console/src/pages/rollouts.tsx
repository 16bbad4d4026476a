// Rollouts: the list, and one rollout with its batches, why it waits, its devices and its
// history, with pause/resume/abort/rollback. Both follow `rollout` messages of the live stream.
import { useMemo, useState } from 'preact/hooks';
import { enc, q, send } from '../api';
import { ConfirmButton, Empty, ErrorBanner, Link, Loading, Section, StatusBadge, Time, useAction, useTitle } from '../components';
import { count, dateTime } from '../format';
import { useGet, useNow, useThrottle } from '../hooks';
import { useLive } from '../live';
import { navigate, useLocation, withQuery } from '../router';
import type { Items, Rollout, RolloutCounts, RolloutSummary } from '../types';

export const ACTIVE_ROLLOUT_STATES = ['PROGRESSING', 'PAUSED', 'ROLLING_BACK'];
const STATES = ['PROGRESSING', 'PAUSED', 'ROLLING_BACK', 'SUCCEEDED', 'ROLLED_BACK', 'ABORTED', 'SUPERSEDED'];

/** A list item holds the number of batches; a live message (a full rollout) holds the batches. */
export function batchCount(r: RolloutSummary | Rollout): number | undefined {
  const b = (r as { batches?: unknown }).batches;
  return Array.isArray(b) ? b.length : (b as number | undefined);
}

export function batchText(r: RolloutSummary | Rollout): string {
  const n = batchCount(r);
  if (!n) return '–';
  return `${Math.min(n, (r.batch ?? 0) + 1)} of ${n}`;
}

/** A rollout from the live stream merged into a list of summaries (new ones first). */
export function mergeRollout(items: RolloutSummary[], r: Rollout): RolloutSummary[] {
  const summary = { ...r, batches: batchCount(r) } as RolloutSummary;
  const i = items.findIndex((x) => x.id === r.id);
  return i < 0 ? [summary, ...items] : items.map((x) => (x.id === r.id ? { ...x, ...summary } : x));
}

export function RolloutsPage() {
  useTitle('Rollouts');
  const now = useNow();
  const loc = useLocation();
  const state = loc.query.get('state') ?? '';
  const app = loc.query.get('app') ?? '';
  const list = useGet<Items<RolloutSummary>>(`/api/v1/rollouts${q({ state, app, limit: 200 })}`);
  useLive({
    rollout: (r: Rollout) => {
      if ((state && r.state !== state) || (app && r.app !== app)) return;
      list.setData((old) => (old ? { items: mergeRollout(old.items, r) } : old));
    },
    poll: list.reload,
  });
  const items = list.data?.items ?? [];
  return (
    <div class="page">
      <h1>Rollouts</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <div class="field">
          <label for="rstate">State</label>
          <select id="rstate" value={state} onChange={(e) => navigate(withQuery('/rollouts', { state: (e.target as HTMLSelectElement).value, app }), { replace: true })}>
            <option value="">Any state</option>
            {STATES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        {app ? (
          <p>
            App <strong>{app}</strong>{' '}
            <Link href={withQuery('/rollouts', { state })}>show every app</Link>
          </p>
        ) : null}
      </form>
      <ErrorBanner error={list.error} onRetry={list.reload} />
      {list.data ? (
        items.length ? (
          <div class="table-wrap">
            <table data-testid="rollouts-table">
              <thead>
                <tr>
                  <th scope="col">App</th>
                  <th scope="col">State</th>
                  <th scope="col">Batch</th>
                  <th scope="col">Revision</th>
                  <th scope="col">Why</th>
                  <th scope="col">Started</th>
                </tr>
              </thead>
              <tbody>
                {items.map((r) => (
                  <tr key={r.id} data-testid={`rollout-row-${r.id}`} data-state={r.state}>
                    <td>
                      <Link href={`/rollouts/${enc(r.id)}`}>{r.app}</Link>
                      <div class="muted small mono">{r.id}</div>
                    </td>
                    <td>
                      <StatusBadge status={r.state} />
                    </td>
                    <td>{batchText(r)}</td>
                    <td class="mono small">
                      {r.fromRevision ?? '(none)'} → {r.toRevision}
                    </td>
                    <td class="small">{r.reason ?? ''}</td>
                    <td>
                      <Time iso={r.createdAt} now={now} />
                      <div class="muted small">{r.createdBy}</div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : (
          <Empty>{state ? `No rollout is ${state}.` : 'No rollouts yet. Deploying an app or pushing a commit to a Git source starts one.'}</Empty>
        )
      ) : list.loading ? (
        <Loading />
      ) : null}
    </div>
  );
}

const LEGEND: [keyof RolloutCounts, string][] = [
  ['targeted', 'targeted'],
  ['updated', 'updated'],
  ['ready', 'ready'],
  ['failed', 'failed'],
  ['pending', 'pending'],
  ['pendingOffline', 'offline'],
  ['outsideWindow', 'outside window'],
  ['neverSeen', 'never seen'],
];

export function Progress({ counts, testid }: { counts?: RolloutCounts; testid?: string }) {
  const c = counts ?? {};
  const total = Math.max(1, c.targeted ?? 0);
  const ready = c.ready ?? 0;
  const updated = Math.max(0, (c.updated ?? 0) - ready);
  const failed = c.failed ?? 0;
  const offline = c.pendingOffline ?? 0;
  const pct = (n: number) => `${((100 * n) / total).toFixed(2)}%`;
  return (
    <div data-testid={testid}>
      <div
        class="progress"
        role="progressbar"
        aria-valuemin={0}
        aria-valuemax={c.targeted ?? 0}
        aria-valuenow={ready}
        aria-label={`${ready} of ${c.targeted ?? 0} ready`}
      >
        <span class="p-ready" style={{ width: pct(ready) }} />
        <span class="p-updated" style={{ width: pct(updated) }} />
        <span class="p-failed" style={{ width: pct(failed) }} />
        <span class="p-offline" style={{ width: pct(offline) }} />
      </div>
      <ul class="legend">
        {LEGEND.filter(([k]) => k === 'targeted' || (c[k] ?? 0) > 0 || k === 'ready').map(([k, label]) => (
          <li key={k} data-count={k}>
            <b>{count(c[k] ?? 0)}</b> {label}
          </li>
        ))}
      </ul>
    </div>
  );
}

const DEVICE_LIMIT = 200;

export function RolloutPage({ id }: { id: string }) {
  const now = useNow();
  const r = useGet<Rollout>(`/api/v1/rollouts/${enc(id)}`);
  useTitle(r.data ? `Rollout of ${r.data.app}` : 'Rollout');
  // the devices and history come with a full read: often for small rollouts, rarely for large ones
  const refetch = useThrottle(r.reload, (r.data?.devices?.length ?? 0) > 2000 ? 30000 : 3000);
  const [busy, error, run] = useAction();
  const [deviceState, setDeviceState] = useState('');
  const [showAll, setShowAll] = useState(false);

  useLive({
    rollout: (m: Rollout) => {
      if (m.id !== id) return;
      r.setData((old) => (old ? { ...old, ...m, devices: old.devices, events: m.events ?? old.events } : m));
      refetch(); // the devices and history
    },
    poll: refetch,
  });

  const act = (verb: 'pause' | 'resume' | 'abort' | 'rollback') =>
    run(async () => {
      const after = await send<Rollout>('POST', `/api/v1/rollouts/${enc(id)}/${verb}`);
      r.setData(() => after);
    });

  const devices = useMemo(() => (r.data?.devices ?? []).filter((d) => !deviceState || d.state === deviceState), [r.data, deviceState]);
  const deviceStates = useMemo(() => [...new Set((r.data?.devices ?? []).map((d) => d.state))].sort(), [r.data]);

  if (r.error && !r.data) {
    return (
      <div class="page">
        <h1>Rollout</h1>
        <ErrorBanner error={r.error.status === 404 ? `There is no rollout ${id}.` : r.error} onRetry={r.reload} />
        <Link href="/rollouts">Back to the rollouts</Link>
      </div>
    );
  }
  const x = r.data;
  if (!x) return <Loading />;
  const s = x.state;
  const batches = x.batches ?? [];
  return (
    <div class="page">
      <p class="small">
        <Link href="/rollouts">Rollouts</Link> /
      </p>
      <h1>
        Rollout of {x.app} <StatusBadge status={s} testid="rollout-state" />
      </h1>
      <p class="mono small">
        {x.fromRevision ?? '(none)'} → {x.toRevision} · {x.source ?? ''} · started by {x.createdBy ?? '–'} <Time iso={x.createdAt} now={now} />
        {x.finishedAt ? (
          <>
            {' '}
            · finished <Time iso={x.finishedAt} now={now} />
          </>
        ) : null}
      </p>
      <div class="actions-row">
        <button type="button" class="btn" disabled={busy || s !== 'PROGRESSING'} onClick={() => act('pause')} data-testid="rollout-pause">
          Pause
        </button>
        <button type="button" class="btn" disabled={busy || s !== 'PAUSED'} onClick={() => act('resume')} data-testid="rollout-resume">
          Resume
        </button>
        <ConfirmButton
          label="Abort"
          question="Abort this rollout?"
          detail="It stops where it is: devices already updated keep the new revision, the others keep the old one."
          danger
          disabled={busy || !(s === 'PROGRESSING' || s === 'PAUSED')}
          testid="rollout-abort"
          onConfirm={() => act('abort')}
        />
        <ConfirmButton
          label="Roll back"
          question="Roll this rollout back?"
          detail="Every device the rollout released returns to what it ran before."
          danger
          disabled={busy || s === 'ROLLING_BACK' || s === 'ROLLED_BACK' || s === 'SUPERSEDED'}
          testid="rollout-rollback"
          onConfirm={() => act('rollback')}
        />
      </div>
      <ErrorBanner error={error} />
      <ErrorBanner error={r.error} onRetry={r.reload} />
      {x.reason ? (
        <p class="why" data-testid="rollout-reason">
          <strong>{ACTIVE_ROLLOUT_STATES.includes(s) ? 'Waiting: ' : 'Result: '}</strong>
          {x.reason}
        </p>
      ) : null}
      <Section title="Progress" id="progress">
        <Progress counts={x.counts} testid="rollout-counts" />
        {x.policySummary ? <p class="hint">Policy: {x.policySummary}</p> : null}
      </Section>
      <Section title="Batches" id="batches">
        {batches.length ? (
          <div class="batches">
            {batches.map((b) => (
              <div key={b.index} class={`batch${b.index === x.batch && ACTIVE_ROLLOUT_STATES.includes(s) ? ' current' : ''}`} data-testid={`rollout-batch-${b.index}`} data-state={b.state}>
                <div class="batch-head">
                  <strong>
                    {b.index + 1}. {b.name ?? `batch ${b.index + 1}`}
                  </strong>
                  <StatusBadge status={b.state} />
                  <span class="muted small">
                    {b.successThreshold !== undefined ? `succeeds at ${b.successThreshold}% ready` : ''}
                    {b.failureThreshold !== undefined ? ` · fails above ${b.failureThreshold}% failed` : ''}
                    {b.soak ? ` · soak ${b.soak}` : ''}
                    {b.progressDeadline ? ` · deadline ${b.progressDeadline}` : ''}
                  </span>
                </div>
                <Progress counts={b.counts} />
                <p class="small muted">
                  {b.startedAt ? <>started {dateTime(b.startedAt)}</> : 'not started'}
                  {b.soakUntil && !b.finishedAt ? <> · soaking until {dateTime(b.soakUntil)}</> : null}
                  {b.finishedAt ? <> · finished {dateTime(b.finishedAt)}</> : null}
                  {b.reason ? <> · {b.reason}</> : null}
                </p>
              </div>
            ))}
          </div>
        ) : (
          <Empty>No batches.</Empty>
        )}
      </Section>
      <Section
        title={`Devices (${count(x.devices?.length ?? 0)})`}
        id="devices"
        actions={
          deviceStates.length > 1 ? (
            <>
              <label for="dstate" class="sr-only">
                Device state
              </label>
              <select id="dstate" value={deviceState} onChange={(e) => setDeviceState((e.target as HTMLSelectElement).value)}>
                <option value="">Every state</option>
                {deviceStates.map((st) => (
                  <option key={st} value={st}>
                    {st}
                  </option>
                ))}
              </select>
            </>
          ) : null
        }
      >
        {devices.length ? (
          <div class="table-wrap">
            <table data-testid="rollout-devices">
              <thead>
                <tr>
                  <th scope="col">Device</th>
                  <th scope="col">Batch</th>
                  <th scope="col">State</th>
                  <th scope="col">Running</th>
                  <th scope="col">Why</th>
                </tr>
              </thead>
              <tbody>
                {(showAll ? devices : devices.slice(0, DEVICE_LIMIT)).map((d) => (
                  <tr key={d.deviceId} data-testid={`rollout-device-${d.deviceId}`} data-state={d.state}>
                    <td>
                      <Link href={`/devices/${enc(d.deviceId)}`}>{d.deviceName ?? d.deviceId}</Link>
                    </td>
                    <td>{d.batch !== undefined ? d.batch + 1 : '–'}</td>
                    <td>
                      <StatusBadge status={d.state} />
                    </td>
                    <td class="mono small">{d.runningRevision ?? '–'}</td>
                    <td class="small">{d.reason ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : (
          <Empty>No device{deviceState ? ` is ${deviceState}` : ''}.</Empty>
        )}
        {!showAll && devices.length > DEVICE_LIMIT ? (
          <button type="button" class="btn small" onClick={() => setShowAll(true)}>
            Show all {count(devices.length)}
          </button>
        ) : null}
      </Section>
      <Section title="History" id="history">
        {x.events?.length ? (
          <ol class="timeline">
            {[...x.events].reverse().map((e) => (
              <li key={e.seq}>
                <Time iso={e.at} now={now} /> <span class="kind">{e.kind}</span> {e.batch !== undefined ? `batch ${e.batch + 1}: ` : ''}
                {e.message}
              </li>
            ))}
          </ol>
        ) : (
          <Empty>No history yet.</Empty>
        )}
      </Section>
    </div>
  );
}
