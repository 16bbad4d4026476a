// Apps: catalog deployments (deploy, upgrade, where they run), the apps on devices, the catalog
// with its versions, and the Git sources with their commit history and per-commit diffs.
import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { enc, send } from '../api';
import { Empty, ErrorBanner, Link, Loading, Section, StatusBadge, Time, useAction, useTitle } from '../components';
import { DeployDialog, DeployTarget } from '../deploy';
import { bytes, count, shortSha } from '../format';
import { useGet, useNow } from '../hooks';
import { useLive } from '../live';
import type { AppSummary, CatalogApp, CatalogAppSummary, Commit, Deployment, DeviceApp, GitSource, Items, Rollout } from '../types';
import { batchText } from './rollouts';

export function AppsPage() {
  useTitle('Apps');
  const now = useNow();
  const deployments = useGet<Items<Deployment>>('/api/v1/deployments');
  const apps = useGet<Items<AppSummary>>('/api/v1/apps');
  const [dialog, setDialog] = useState<DeployTarget | null>(null);
  useLive({
    rollout: (r: Rollout) => {
      if (deployments.data?.items.some((d) => d.latestRollout?.id === r.id || d.app === r.app)) deployments.reload();
    },
    poll: () => {
      deployments.reload();
      apps.reload();
    },
  });

  return (
    <div class="page">
      <h1>Apps</h1>
      <Section
        title="Deployments"
        id="deployments"
        actions={
          <button type="button" class="btn primary" onClick={() => setDialog({})} data-testid="deploy-open">
            Deploy…
          </button>
        }
      >
        <ErrorBanner error={deployments.error} onRetry={deployments.reload} />
        {deployments.data ? (
          <DeploymentTable items={deployments.data.items} now={now} onUpgrade={(d) => setDialog({ deployment: d })} />
        ) : deployments.loading ? (
          <Loading />
        ) : null}
      </Section>
      <Section title="Apps on devices" id="running">
        <ErrorBanner error={apps.error} onRetry={apps.reload} />
        {apps.data ? <AppTable items={apps.data.items} /> : apps.loading ? <Loading /> : null}
      </Section>
      <Catalog onDeploy={(app, version) => setDialog({ app, version })} />
      <Sources now={now} />
      <DeployDialog
        open={dialog !== null}
        target={dialog ?? {}}
        onClose={() => setDialog(null)}
        onDone={() => {
          setDialog(null);
          deployments.reload();
          apps.reload();
        }}
      />
    </div>
  );
}

function DeploymentTable({ items, now, onUpgrade }: { items: Deployment[]; now: number; onUpgrade: (d: Deployment) => void }) {
  const [open, setOpen] = useState<string | null>(null);
  if (!items.length) return <Empty>No catalog app is deployed. Push a version to the catalog (edgefleet apps push) and deploy it here.</Empty>;
  return (
    <>
      <div class="table-wrap">
        <table data-testid="deployments-table">
          <thead>
            <tr>
              <th scope="col">Deployment</th>
              <th scope="col">Version</th>
              <th scope="col">Target</th>
              <th scope="col">Latest rollout</th>
              <th scope="col">Updated</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {items.map((d) => (
              <Fragment key={d.name}>
                <tr key={d.name} data-testid={`deployment-row-${d.name}`}>
                  <td>
                    <strong>{d.name}</strong>
                    {d.app !== d.name ? <div class="muted small">app {d.app}</div> : null}
                  </td>
                  <td class="mono small">
                    {d.version}
                    {d.revision && d.revision !== d.version ? <div class="muted">{d.revision}</div> : null}
                  </td>
                  <td>
                    <code>{d.target || '*'}</code>
                  </td>
                  <td>
                    {d.latestRollout ? (
                      <>
                        <Link href={`/rollouts/${enc(d.latestRollout.id)}`}>
                          <StatusBadge status={d.latestRollout.state} />
                        </Link>{' '}
                        <span class="small muted">batch {batchText(d.latestRollout)}</span>
                      </>
                    ) : (
                      '–'
                    )}
                    {d.rolloutSummary ? <div class="small muted">{d.rolloutSummary}</div> : null}
                  </td>
                  <td>
                    <Time iso={d.updatedAt ?? d.createdAt} now={now} />
                  </td>
                  <td class="actions">
                    <button type="button" class="btn small" aria-expanded={open === d.name} onClick={() => setOpen(open === d.name ? null : d.name)}>
                      {open === d.name ? 'Hide devices' : 'Where it runs'}
                    </button>
                    <button type="button" class="btn small" onClick={() => onUpgrade(d)} data-testid={`upgrade-open-${d.name}`}>
                      Upgrade…
                    </button>
                  </td>
                </tr>
                {open === d.name ? (
                  <tr class="row-detail" key={`${d.name}-status`}>
                    <td colSpan={6}>
                      <AppStatus app={d.name} />
                    </td>
                  </tr>
                ) : null}
              </Fragment>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

function AppTable({ items }: { items: AppSummary[] }) {
  const [open, setOpen] = useState<string | null>(null);
  if (!items.length) return <Empty>No app is desired on any device yet.</Empty>;
  return (
    <div class="table-wrap">
      <table data-testid="apps-table">
        <thead>
          <tr>
            <th scope="col">App</th>
            <th scope="col">Source</th>
            <th scope="col" class="num">Devices</th>
            <th scope="col" class="num">Ready</th>
            <th scope="col" class="num">Failed</th>
            <th scope="col" class="num">Pending</th>
            <th scope="col" class="num">Offline</th>
            <th scope="col">
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {items.map((a) => (
            <Fragment key={a.app}>
              <tr key={a.app} data-testid={`app-row-${a.app}`}>
                <td>
                  <strong>{a.app}</strong>
                </td>
                <td class="small">{a.source ?? '–'}</td>
                <td class="num">{count(a.devices)}</td>
                <td class="num">{count(a.ready)}</td>
                <td class="num">{a.failed ? <span class="badge s-failed">{count(a.failed)}</span> : '0'}</td>
                <td class="num">{count(a.pending)}</td>
                <td class="num">{count(a.pendingOffline)}</td>
                <td class="actions">
                  <button type="button" class="btn small" aria-expanded={open === a.app} onClick={() => setOpen(open === a.app ? null : a.app)}>
                    {open === a.app ? 'Hide devices' : 'Where it runs'}
                  </button>
                </td>
              </tr>
              {open === a.app ? (
                <tr class="row-detail" key={`${a.app}-status`}>
                  <td colSpan={8}>
                    <AppStatus app={a.app} />
                  </td>
                </tr>
              ) : null}
            </Fragment>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Per device: the revision desired, the one running, and the state (GET /api/v1/apps/{name}/status). */
function AppStatus({ app }: { app: string }) {
  const status = useGet<{ app: string; devices: DeviceApp[] }>(`/api/v1/apps/${enc(app)}/status`);
  useLive({ poll: status.reload });
  if (status.error) return <ErrorBanner error={status.error} onRetry={status.reload} />;
  if (!status.data) return <Loading />;
  const devices = status.data.devices ?? [];
  if (!devices.length) return <Empty>No device is meant to run {app}.</Empty>;
  return (
    <table data-testid={`app-status-${app}`}>
      <thead>
        <tr>
          <th scope="col">Device</th>
          <th scope="col">State</th>
          <th scope="col">Desired</th>
          <th scope="col">Running</th>
        </tr>
      </thead>
      <tbody>
        {devices.slice(0, 500).map((d) => (
          <tr key={d.deviceId}>
            <td>
              <Link href={`/devices/${enc(d.deviceId)}`}>{d.deviceName ?? d.deviceId}</Link>
            </td>
            <td>
              <StatusBadge status={d.state} />
              {d.reason ? <div class="small muted">{d.reason}</div> : null}
            </td>
            <td class="mono small">{d.desiredRevision ?? '–'}</td>
            <td class="mono small">{d.readyRevision ?? d.runningRevision ?? '–'}</td>
          </tr>
        ))}
      </tbody>
      {devices.length > 500 ? (
        <caption class="hint">The first 500 of {count(devices.length)} devices.</caption>
      ) : null}
    </table>
  );
}

function Catalog({ onDeploy }: { onDeploy: (app: string, version?: string) => void }) {
  const catalog = useGet<Items<CatalogAppSummary>>('/api/v1/catalog/apps');
  const [open, setOpen] = useState<string | null>(null);
  return (
    <Section title="Catalog" id="catalog">
      <ErrorBanner error={catalog.error} onRetry={catalog.reload} />
      {catalog.data ? (
        catalog.data.items.length ? (
          <div class="table-wrap">
            <table data-testid="catalog-table">
              <thead>
                <tr>
                  <th scope="col">App</th>
                  <th scope="col">Latest</th>
                  <th scope="col" class="num">Versions</th>
                  <th scope="col">Kind</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {catalog.data.items.map((a) => (
                  <Fragment key={a.name}>
                    <tr key={a.name} data-testid={`catalog-row-${a.name}`}>
                      <td>
                        <strong>{a.name}</strong>
                        {a.description ? <div class="small muted">{a.description}</div> : null}
                      </td>
                      <td class="mono small">{a.latestVersion}</td>
                      <td class="num">{count(a.versions)}</td>
                      <td>{a.kind}</td>
                      <td class="actions">
                        <button type="button" class="btn small" aria-expanded={open === a.name} onClick={() => setOpen(open === a.name ? null : a.name)}>
                          {open === a.name ? 'Hide versions' : 'Versions'}
                        </button>
                        <button type="button" class="btn small" onClick={() => onDeploy(a.name)} data-testid={`catalog-deploy-${a.name}`}>
                          Deploy…
                        </button>
                      </td>
                    </tr>
                    {open === a.name ? (
                      <tr class="row-detail" key={`${a.name}-versions`}>
                        <td colSpan={5}>
                          <Versions app={a.name} onDeploy={onDeploy} />
                        </td>
                      </tr>
                    ) : null}
                  </Fragment>
                ))}
              </tbody>
            </table>
          </div>
        ) : (
          <Empty>The catalog is empty. Push a chart or manifests with: edgefleet apps push NAME --version V --chart DIR</Empty>
        )
      ) : catalog.loading ? (
        <Loading />
      ) : null}
    </Section>
  );
}

function Versions({ app, onDeploy }: { app: string; onDeploy: (app: string, version?: string) => void }) {
  const detail = useGet<CatalogApp>(`/api/v1/catalog/apps/${enc(app)}`);
  if (detail.error) return <ErrorBanner error={detail.error} onRetry={detail.reload} />;
  if (!detail.data) return <Loading />;
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">Version</th>
          <th scope="col">Kind</th>
          <th scope="col">Size</th>
          <th scope="col">Digest</th>
          <th scope="col">Pushed</th>
          <th scope="col">
            <span class="sr-only">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {detail.data.versions.map((v) => (
          <tr key={v.version}>
            <td class="mono">
              {v.version}
              {v.description ? <div class="small muted">{v.description}</div> : null}
            </td>
            <td>{v.kind}</td>
            <td>
              {bytes(v.size)}, {count(v.files)} files
            </td>
            <td class="mono small">{v.digest?.slice(0, 19)}</td>
            <td>
              <Time iso={v.createdAt} /> <span class="muted small">{v.createdBy}</span>
            </td>
            <td class="actions">
              <button type="button" class="btn small" onClick={() => onDeploy(app, v.version)}>
                Deploy…
              </button>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Sources({ now }: { now: number }) {
  const repos = useGet<Items<GitSource>>('/api/v1/repos');
  const [open, setOpen] = useState<string | null>(null);
  const [busy, error, run] = useAction();
  return (
    <Section title="Git sources" id="sources">
      <ErrorBanner error={repos.error} onRetry={repos.reload} />
      <ErrorBanner error={error} />
      {repos.data ? (
        repos.data.items.length ? (
          <div class="table-wrap">
            <table data-testid="repos-table">
              <thead>
                <tr>
                  <th scope="col">Source</th>
                  <th scope="col">Target</th>
                  <th scope="col">Last commit</th>
                  <th scope="col">Polled</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {repos.data.items.map((s) => (
                  <Fragment key={s.name}>
                    <tr key={s.name} data-testid={`repo-row-${s.name}`}>
                      <td>
                        <strong>{s.name}</strong>
                        <div class="small muted mono">
                          {s.url} {s.branch ? `@ ${s.branch}` : ''} {s.path ? `(${s.path})` : ''}
                        </div>
                        {s.apps?.length ? <div class="small">apps: {s.apps.join(', ')}</div> : null}
                        {s.lastError ? <div class="small error-text">{s.lastError}</div> : null}
                      </td>
                      <td>
                        <code>{s.target || '*'}</code>
                      </td>
                      <td class="small">
                        {s.lastCommit ? (
                          <>
                            <span class="mono">{shortSha(s.lastCommit.sha)}</span> {s.lastCommit.message?.split('\n')[0]}
                          </>
                        ) : (
                          '–'
                        )}
                      </td>
                      <td>
                        <Time iso={s.lastPolledAt} now={now} />
                      </td>
                      <td class="actions">
                        <button type="button" class="btn small" disabled={busy} onClick={() => run(() => send('POST', `/api/v1/repos/${enc(s.name)}/sync`).then(repos.reload))}>
                          Sync now
                        </button>
                        <button type="button" class="btn small" aria-expanded={open === s.name} onClick={() => setOpen(open === s.name ? null : s.name)} data-testid={`repo-history-${s.name}`}>
                          {open === s.name ? 'Hide history' : 'History'}
                        </button>
                      </td>
                    </tr>
                    {open === s.name ? (
                      <tr class="row-detail" key={`${s.name}-history`}>
                        <td colSpan={5}>
                          <History source={s.name} now={now} />
                        </td>
                      </tr>
                    ) : null}
                  </Fragment>
                ))}
              </tbody>
            </table>
          </div>
        ) : (
          <Empty>No Git source. Add one with: edgefleet repos add NAME --url URL --target SELECTOR</Empty>
        )
      ) : repos.loading ? (
        <Loading />
      ) : null}
    </Section>
  );
}

function History({ source, now }: { source: string; now: number }) {
  const history = useGet<Items<Commit>>(`/api/v1/repos/${enc(source)}/history?limit=30`);
  const [sha, setSha] = useState<string | null>(null);
  if (history.error) return <ErrorBanner error={history.error} onRetry={history.reload} />;
  if (!history.data) return <Loading />;
  if (!history.data.items.length) return <Empty>No commit recorded yet.</Empty>;
  return (
    <div>
      <table>
        <thead>
          <tr>
            <th scope="col">Commit</th>
            <th scope="col">State</th>
            <th scope="col">Devices</th>
            <th scope="col">When</th>
          </tr>
        </thead>
        <tbody>
          {history.data.items.map((c) => (
            <tr key={c.sha} class={sha === c.sha ? 'selected' : undefined}>
              <td>
                <button type="button" class="chip mono" aria-pressed={sha === c.sha} onClick={() => setSha(sha === c.sha ? null : c.sha)} title="Show the changes">
                  {shortSha(c.sha)}
                </button>{' '}
                {c.message?.split('\n')[0]} <span class="muted small">{c.author}</span>
                {c.error ? <div class="small error-text">{c.error}</div> : null}
              </td>
              <td>
                <StatusBadge status={c.state ?? c.status ?? '?'} />
              </td>
              <td class="small">
                {c.devices ? `${count(c.devices.ready)} ready of ${count(c.devices.rendered)}${c.devices.failed ? `, ${count(c.devices.failed)} failed` : ''}` : '–'}
              </td>
              <td>
                <Time iso={c.committedAt ?? c.recordedAt} now={now} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {sha ? <CommitDiff source={source} sha={sha} /> : null}
    </div>
  );
}

function CommitDiff({ source, sha }: { source: string; sha: string }) {
  const commit = useGet<Commit>(`/api/v1/repos/${enc(source)}/commits/${enc(sha)}`);
  if (commit.error) return <ErrorBanner error={commit.error} onRetry={commit.reload} />;
  if (!commit.data) return <Loading />;
  const c = commit.data;
  return (
    <div class="card" data-testid="commit-diff">
      <h3 class="mono">{c.sha}</h3>
      <p class="commit-msg">{c.message}</p>
      {(c.apps ?? []).length ? (
        (c.apps ?? []).map((a) => (
          <div key={a.app}>
            <h3>
              {a.app} <StatusBadge status={a.change} /> <span class="mono small muted">{a.revision ?? ''}</span>
            </h3>
            {a.error ? <p class="error-text small">{a.error}</p> : null}
            <p class="small muted">
              {[a.added?.length && `added ${a.added.join(', ')}`, a.changed?.length && `changed ${a.changed.join(', ')}`, a.removed?.length && `removed ${a.removed.join(', ')}`]
                .filter(Boolean)
                .join(' · ')}
            </p>
            {a.diff ? <Diff text={a.diff} /> : null}
          </div>
        ))
      ) : (
        <Empty>This commit changed no app.</Empty>
      )}
    </div>
  );
}

function Diff({ text }: { text: string }) {
  return (
    <pre class="diff" tabIndex={0}>
      {text.split('\n').map((l, i) => (
        <div key={i} class={l.startsWith('+') && !l.startsWith('+++') ? 'add' : l.startsWith('-') && !l.startsWith('---') ? 'del' : l.startsWith('@@') ? 'hunk' : undefined}>
          {l || ' '}
        </div>
      ))}
    </pre>
  );
}
