import { useTitle } from '../components';

export const ACTIVE_ROLLOUT_STATES = ['PROGRESSING', 'PAUSED', 'ROLLING_BACK'];

export function RolloutsPage() {
  useTitle('Rollouts');
  return <div class="page"><h1>Rollouts</h1></div>;
}

export function RolloutPage({ id }: { id: string }) {
  useTitle('Rollout');
  return <div class="page"><h1>Rollout {id}</h1></div>;
}
