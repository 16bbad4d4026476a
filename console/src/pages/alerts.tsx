import { useTitle } from '../components';

export function AlertsPage(_props: { id?: string }) {
  useTitle('AlertsPage');
  return <div class="page"><h1>AlertsPage</h1><p class="muted">Coming soon.</p></div>;
}
