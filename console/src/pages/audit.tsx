// Audit: who did what, newest first, in pages of 50 with a filter over the loaded entries.
import { useMemo, useState } from 'preact/hooks';
import { Empty, ErrorBanner, Loading, useTitle } from '../components';
import { count, dateTime } from '../format';
import { useGet } from '../hooks';
import { useLive } from '../live';
import { navigate, useLocation, withQuery } from '../router';
import type { Items } from '../types';

interface AuditEntry {
  id: string;
  at: string;
  actor: string;
  action: string;
  target?: string;
  detail?: string;
}

const PAGE = 50;
/** The API answers the newest entries up to a limit; the console pages through the newest 1,000. */
const LOADED = 1000;

export function AuditPage() {
  useTitle('Audit');
  const loc = useLocation();
  const page = Math.max(0, (Number.parseInt(loc.query.get('page') ?? '1', 10) || 1) - 1);
  const filter = loc.query.get('q') ?? '';
  const [text, setText] = useState(filter);
  const audit = useGet<Items<AuditEntry>>(`/api/v1/audit?limit=${LOADED}`);
  useLive({ poll: page === 0 ? audit.reload : undefined });

  const rows = useMemo(() => {
    const f = filter.toLowerCase();
    const items = audit.data?.items ?? [];
    return f ? items.filter((e) => `${e.actor} ${e.action} ${e.target ?? ''} ${e.detail ?? ''}`.toLowerCase().includes(f)) : items;
  }, [audit.data, filter]);
  const shown = rows.slice(page * PAGE, (page + 1) * PAGE);
  const go = (p: number, qtext = filter) => navigate(withQuery('/audit', { q: qtext, page: p > 0 ? p + 1 : undefined }));

  return (
    <div class="page">
      <h1>Audit log</h1>
      <form
        class="filters"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          go(0, text.trim());
        }}
      >
        <div class="field grow">
          <label for="aq">Filter by actor, action, target or detail</label>
          <input id="aq" type="search" value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} data-testid="audit-filter" />
        </div>
        <button type="submit" class="btn primary">
          Filter
        </button>
      </form>
      <ErrorBanner error={audit.error} onRetry={audit.reload} />
      {audit.data ? (
        shown.length ? (
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
                {shown.map((e) => (
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
          <Empty>{filter ? 'No entry matches.' : 'The audit log is empty.'}</Empty>
        )
      ) : audit.loading ? (
        <Loading />
      ) : null}
      {audit.data ? (
        <nav class="pager" aria-label="Pages">
          <button type="button" class="btn" disabled={page === 0} onClick={() => go(page - 1)} data-testid="audit-pager-prev">
            ← Newer
          </button>
          <span>
            {rows.length ? `${count(page * PAGE + 1)}–${count(page * PAGE + shown.length)} of ${count(rows.length)}` : ''}
            {(audit.data.items.length >= LOADED && !filter) ? ' (the newest 1,000)' : ''}
          </span>
          <button type="button" class="btn" disabled={(page + 1) * PAGE >= rows.length} onClick={() => go(page + 1)} data-testid="audit-pager-next">
            Older →
          </button>
        </nav>
      ) : null}
    </div>
  );
}
