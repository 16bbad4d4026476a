// Audit: who did what, newest first; the controller filters and pages (GET /api/v1/audit).
import { useState } from 'preact/hooks';
import { Empty, ErrorBanner, Loading, useTitle } from '../components';
import { dateTime } from '../format';
import { useGet } from '../hooks';
import { useLive } from '../live';
import { navigate, useLocation, withQuery } from '../router';

interface AuditEntry {
  id: string;
  at: string;
  actor: string;
  action: string;
  target?: string;
  detail?: string;
}

interface AuditPageAnswer {
  items: AuditEntry[];
  next?: string | null;
}

const PAGE = 50;

export function AuditPage() {
  useTitle('Audit');
  const loc = useLocation();
  const filter = loc.query.get('q') ?? '';
  const before = loc.query.get('before') ?? '';
  const [text, setText] = useState(filter);
  const audit = useGet<AuditPageAnswer>(withQuery('/api/v1/audit', { limit: PAGE, q: filter, before }));
  // Only the newest page changes as things happen; an older page stays as it is.
  useLive({ poll: before ? undefined : audit.reload });

  const rows = audit.data?.items ?? [];
  const next = audit.data?.next ?? null;
  const go = (params: { q?: string; before?: string }) => navigate(withQuery('/audit', params));

  return (
    <div class="page">
      <h1>Audit log</h1>
      <form
        class="filters"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          go({ q: text.trim() });
        }}
      >
        <div class="field grow">
          <label for="aq">Filter by actor, action, target or detail</label>
          <input id="aq" type="search" maxLength={200} value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} data-testid="audit-filter" />
        </div>
        <button type="submit" class="btn primary">
          Filter
        </button>
      </form>
      <ErrorBanner error={audit.error} onRetry={audit.reload} />
      {audit.data ? (
        rows.length ? (
          <div class="table-wrap">
            <table data-testid="audit-table">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Action</th>
                  <th scope="col">Target</th>
                  <th scope="col">Detail</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((e) => (
                  <tr key={e.id}>
                    <td class="small">{dateTime(e.at)}</td>
                    <td class="small">{e.actor}</td>
                    <td>
                      <span class="kind">{e.action}</span>
                    </td>
                    <td class="small mono">{e.target ?? ''}</td>
                    <td class="small mono detail">{e.detail ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : (
          <Empty>{filter ? 'No entry matches.' : before ? 'No older entries.' : 'The audit log is empty.'}</Empty>
        )
      ) : audit.loading ? (
        <Loading />
      ) : null}
      {audit.data ? (
        <nav class="pager" aria-label="Pages">
          <button type="button" class="btn" disabled={!before} onClick={() => go({ q: filter })} data-testid="audit-pager-prev">
            ← Newest
          </button>
          <span>
            {rows.length ? `${rows.length} ${rows.length === 1 ? 'entry' : 'entries'}${before ? ', older ones' : ', the newest'}` : ''}
          </span>
          <button type="button" class="btn" disabled={!next} onClick={() => next && go({ q: filter, before: next })} data-testid="audit-pager-next">
            Older →
          </button>
        </nav>
      ) : null}
    </div>
  );
}
