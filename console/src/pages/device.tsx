import { useTitle } from '../components';

export function DevicePage(_props: { id?: string }) {
  useTitle('DevicePage');
  return <div class="page"><h1>DevicePage</h1><p class="muted">Coming soon.</p></div>;
}
