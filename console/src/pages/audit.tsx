import { useTitle } from '../components';

export function AuditPage(_props: { id?: string }) {
  useTitle('AuditPage');
  return <div class="page"><h1>AuditPage</h1><p class="muted">Coming soon.</p></div>;
}
