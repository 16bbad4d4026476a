import { useTitle } from '../components';

export function AppsPage(_props: { id?: string }) {
  useTitle('AppsPage');
  return <div class="page"><h1>AppsPage</h1><p class="muted">Coming soon.</p></div>;
}
