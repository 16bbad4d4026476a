// Turning metric summaries into chart series: one point per summary window, broken where the
// device sent nothing (the agent was down or the window was cut short).
import type { MetricSummary } from './types';

export interface Point {
  t: number;
  mean: number;
  min: number;
  max: number;
}

/** The series of one metric; a new segment starts after a gap of more than 3 typical windows. */
export function series(summaries: MetricSummary[], metric: string): Point[][] {
  const windows = summaries
    .map((s) => Date.parse(s.at) - Date.parse(s.from))
    .filter((w) => w > 0)
    .sort((a, b) => a - b);
  const typical = windows.length ? windows[Math.floor(windows.length / 2)] : 60000;
  const out: Point[][] = [];
  let current: Point[] = [];
  let lastAt = -Infinity;
  for (const s of summaries) {
    const m = s.metrics?.[metric];
    const from = Date.parse(s.from);
    const at = Date.parse(s.at);
    if (!m || isNaN(at)) continue;
    if (current.length && from - lastAt > 3 * typical) {
      out.push(current);
      current = [];
    }
    current.push({ t: at, mean: m.mean, min: m.min, max: m.max });
    lastAt = at;
  }
  if (current.length) out.push(current);
  return out;
}

/** The metrics worth a chart, in a useful order: cpu, memory, disks, network, then the rest. */
export function chartedMetrics(summaries: MetricSummary[], limit = 12): string[] {
  const names = new Set<string>();
  for (const s of summaries) Object.keys(s.metrics ?? {}).forEach((n) => names.add(n));
  const rank = (n: string) =>
    n.startsWith('cpu.') ? 0 : n.startsWith('mem.') ? 1 : n.startsWith('disk.') ? 2 : n.startsWith('net.') ? 3 : n.startsWith('app.') ? 4 : 5;
  return [...names].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b)).slice(0, limit);
}

/** A "nice" upper bound for an axis: 100 for percentages, else 1/2/5 × 10^n above the maximum. */
export function axisMax(metric: string, max: number): number {
  if (metric.endsWith('percent')) return 100;
  if (max <= 0) return 1;
  // sizes in bytes: nice numbers of KiB, MiB, GiB, ...
  const unit = metric.endsWith('bytes') ? 1024 ** Math.max(0, Math.floor(Math.log(max) / Math.log(1024))) : 1;
  const v = max / unit;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const f of [1, 2, 5, 10]) if (f * p >= v) return f * p * unit;
  return 10 * p * unit;
}
