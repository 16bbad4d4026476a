// The deploy and upgrade form: it asks the controller for the plan first (?dryRun=true), shows
// it, and only a second click deploys.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, enc, get, send } from './api';
import { ErrorBanner } from './components';
import { count } from './format';
import type { CatalogApp, CatalogAppSummary, Deployment, DeploymentPlan, Items } from './types';

export interface DeployTarget {
  /** Absent: a new deployment; present: an upgrade of this one. */
  deployment?: Deployment;
  app?: string;
  version?: string;
}

/** Parses the values field: empty is none, else a JSON object. */
export function parseValues(text: string): Record<string, unknown> | undefined {
  const t = text.trim();
  if (!t) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch (e) {
    throw new Error(`Values must be a JSON object: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('Values must be a JSON object, e.g. {"replicas": 2}.');
  return v as Record<string, unknown>;
}

export function DeployDialog({ open, target, onClose, onDone }: { open: boolean; target: DeployTarget; onClose: () => void; onDone: (d: Deployment) => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const upgrade = target.deployment;
  const [catalog, setCatalog] = useState<CatalogAppSummary[]>([]);
  const [app, setApp] = useState('');
  const [versions, setVersions] = useState<string[]>([]);
  const [version, setVersion] = useState('');
  const [name, setName] = useState('');
  const [selector, setSelector] = useState('');
  const [values, setValues] = useState('');
  const [resetValues, setResetValues] = useState(false);
  const [rollout, setRollout] = useState('');
  const [force, setForce] = useState(false);
  const [plan, setPlan] = useState<DeploymentPlan | null>(null);
  const [error, setError] = useState<ApiError | Error | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) {
      setApp(upgrade?.app ?? target.app ?? '');
      setVersion(target.version ?? '');
      setName('');
      setSelector(upgrade?.target ?? '');
      setValues('');
      setResetValues(false);
      setRollout(upgrade?.rollout ?? '');
      setForce(false);
      setPlan(null);
      setError(null);
      d.showModal();
      if (!upgrade) get<Items<CatalogAppSummary>>('/api/v1/catalog/apps').then((r) => setCatalog(r.items), setError);
    } else if (!open && d.open) d.close();
  }, [open]);

  useEffect(() => {
    if (!open || !app) {
      setVersions([]);
      return;
    }
    get<CatalogApp>(`/api/v1/catalog/apps/${enc(app)}`).then(
      (a) => {
        const vs = a.versions.map((v) => v.version);
        setVersions(vs);
        setVersion((cur) => (cur && vs.includes(cur) ? cur : upgrade ? upgrade.version : vs[0] ?? ''));
      },
      (e) => setError(e),
    );
  }, [open, app]);

  // any change invalidates the plan shown
  useEffect(() => setPlan(null), [app, version, name, selector, values, resetValues, rollout]);

  const body = (): Record<string, unknown> => {
    const v = parseValues(values);
    if (upgrade) {
      const b: Record<string, unknown> = {};
      if (version && version !== upgrade.version) b.version = version;
      if (v) b.values = v;
      if (resetValues) b.resetValues = true;
      if (selector !== (upgrade.target ?? '')) b.target = selector;
      if (rollout !== (upgrade.rollout ?? '')) b.rollout = rollout;
      if (force) b.force = true;
      return b;
    }
    if (!app) throw new Error('Choose a catalog app.');
    if (!version) throw new Error('Choose a version.');
    if (!selector.trim()) throw new Error('Enter a target: a tag selector such as site=berlin, or * for every device.');
    return { app, version, target: selector.trim(), name: name.trim() || undefined, values: v, rollout: rollout.trim() || undefined, force: force || undefined };
  };
  const url = upgrade ? `/api/v1/deployments/${enc(upgrade.name)}/upgrade` : '/api/v1/deployments';

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const b = body();
      if (!plan) {
        setPlan(await send<DeploymentPlan>('POST', `${url}?dryRun=true`, b));
      } else {
        const d = await send<Deployment>('POST', url, b);
        onDone(d);
      }
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };

  const problems = plan?.problems ?? [];
  const blocked = problems.length > 0 && !force;
  return (
    <dialog ref={ref} class="panel" aria-labelledby="deploy-title" onClose={onClose} onCancel={onClose}>
      <h2 id="deploy-title">{upgrade ? `Upgrade ${upgrade.name}` : 'Deploy a catalog app'}</h2>
      <form class="stack" onSubmit={submit}>
        <div class="grid2">
          <div>
            <label for="d-app">App</label>
            {upgrade ? (
              <input id="d-app" value={app} disabled />
            ) : (
              <select id="d-app" value={app} onChange={(e) => setApp((e.target as HTMLSelectElement).value)} data-testid="deploy-app" required>
                <option value="">Choose…</option>
                {catalog.map((a) => (
                  <option key={a.name} value={a.name}>
                    {a.name}
                  </option>
                ))}
              </select>
            )}
          </div>
          <div>
            <label for="d-version">Version</label>
            <select id="d-version" value={version} onChange={(e) => setVersion((e.target as HTMLSelectElement).value)} data-testid="deploy-version">
              {versions.map((v) => (
                <option key={v} value={v}>
                  {v}
                  {upgrade && v === upgrade.version ? ' (current)' : ''}
                </option>
              ))}
            </select>
          </div>
          {!upgrade ? (
            <div>
              <label for="d-name">Deployment name (optional)</label>
              <input id="d-name" value={name} placeholder={app || 'the app name'} onInput={(e) => setName((e.target as HTMLInputElement).value)} data-testid="deploy-name" />
            </div>
          ) : null}
          <div>
            <label for="d-target">Target (tag selector, * for every device)</label>
            <input id="d-target" value={selector} spellcheck={false} placeholder="site=berlin" onInput={(e) => setSelector((e.target as HTMLInputElement).value)} data-testid="deploy-target" />
          </div>
        </div>
        <div>
          <label for="d-values">Values (JSON object, optional{upgrade ? '; merged into the current values' : ''})</label>
          <textarea id="d-values" rows={3} spellcheck={false} value={values} placeholder='{"replicas": 2}' onInput={(e) => setValues((e.target as HTMLTextAreaElement).value)} data-testid="deploy-values" />
          {upgrade ? (
            <label class="check">
              <input type="checkbox" checked={resetValues} onChange={(e) => setResetValues((e.target as HTMLInputElement).checked)} /> Replace the current values instead of merging
            </label>
          ) : null}
        </div>
        <div>
          <label for="d-rollout">Rollout policy (YAML, optional; default every device at once)</label>
          <textarea id="d-rollout" rows={4} spellcheck={false} value={rollout} placeholder={'canary: 1\nwaves: [50%, 100%]\nsoak: 5m'} onInput={(e) => setRollout((e.target as HTMLTextAreaElement).value)} data-testid="deploy-rollout" />
        </div>
        <ErrorBanner error={error} />
        {plan ? <PlanView plan={plan} /> : <p class="hint">The controller checks the change first and shows what would happen; nothing changes until you confirm.</p>}
        {problems.length ? (
          <label class="check">
            <input type="checkbox" checked={force} onChange={(e) => setForce((e.target as HTMLInputElement).checked)} data-testid="deploy-force" /> Start anyway (devices that
            cannot run it fail, and the rollout's thresholds decide)
          </label>
        ) : null}
        <div class="actions">
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="btn primary" disabled={busy || (!!plan && blocked)} data-testid="deploy-submit">
            {busy ? 'Working…' : !plan ? 'Check plan' : plan.startsRollout === false && upgrade ? 'Save' : `${upgrade ? 'Upgrade' : 'Deploy'} to ${count(plan.targeted ?? 0)} devices`}
          </button>
        </div>
      </form>
    </dialog>
  );
}

function PlanView({ plan }: { plan: DeploymentPlan }) {
  const c = plan.changes ?? {};
  return (
    <div class="card plan" data-testid="deploy-plan">
      <p>
        <strong>
          {plan.app} {plan.fromVersion && plan.fromVersion !== plan.version ? `${plan.fromVersion} → ` : ''}
          {plan.version}
        </strong>{' '}
        to <code>{plan.target || '*'}</code>: {count(plan.targeted ?? 0)} of {count(plan.activeDevices ?? 0)} active devices.
        {plan.startsRollout === false ? ' No rollout starts: the devices already have this revision.' : ''}
      </p>
      <ul class="legend">
        <li>
          <b>{count(c.INSTALL ?? 0)}</b> install
        </li>
        <li>
          <b>{count(c.UPDATE ?? 0)}</b> update
        </li>
        <li>
          <b>{count(c.UNCHANGED ?? 0)}</b> unchanged
        </li>
        <li>
          <b>{count(c.FAILS ?? 0)}</b> would fail
        </li>
      </ul>
      {plan.policy ? <p class="hint">Rollout: {plan.policy}</p> : null}
      {plan.batches?.length ? (
        <p class="small">
          Batches: {plan.batches.map((b) => `${b.name} (${count(b.devices)})`).join(' → ')}
        </p>
      ) : null}
      {(plan.problems ?? []).map((p) => (
        <div class="error-banner" role="alert" data-testid="error-banner" key={p.code}>
          <span>
            {p.message}
            {p.examples?.length ? ` (e.g. ${p.examples.join(', ')})` : ''} <span class="muted">({p.code})</span>
          </span>
        </div>
      ))}
      {plan.devices?.length ? (
        <details>
          <summary>Devices ({count(plan.devices.length + (plan.devicesNotListed ?? 0))})</summary>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Device</th>
                  <th scope="col">Batch</th>
                  <th scope="col">Runs now</th>
                  <th scope="col">Would</th>
                </tr>
              </thead>
              <tbody>
                {plan.devices.slice(0, 100).map((d) => (
                  <tr key={d.device}>
                    <td>{d.name ?? d.device}</td>
                    <td>{d.batch ?? ''}</td>
                    <td class="mono small">{d.running ?? '–'}</td>
                    <td>
                      {d.action}
                      {d.problem ? <div class="small muted">{d.problem}</div> : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </details>
      ) : null}
    </div>
  );
}
