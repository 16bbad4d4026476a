import { describe, expect, it } from 'vitest';
import { axisMax, chartedMetrics, series } from './chart';
import type { MetricSummary } from './types';

const win = (fromMin: number, toMin: number, cpu: number): MetricSummary => ({
  from: new Date(Date.UTC(2026, 0, 1, 0, fromMin)).toISOString(),
  at: new Date(Date.UTC(2026, 0, 1, 0, toMin)).toISOString(),
  metrics: { 'cpu.used.percent': { min: cpu - 1, max: cpu + 1, mean: cpu, last: cpu, count: 6 } },
});

describe('chart series', () => {
  it('breaks the line where the device sent nothing for more than three windows', () => {
    const s = [win(0, 1, 10), win(1, 2, 20), win(2, 3, 30), win(10, 11, 40), win(11, 12, 50)];
    const segments = series(s, 'cpu.used.percent');
    expect(segments.map((seg) => seg.map((p) => p.mean))).toEqual([[10, 20, 30], [40, 50]]);
  });

  it('skips windows without the metric and answers nothing for an unknown one', () => {
    const s = [win(0, 1, 10), { ...win(1, 2, 0), metrics: {} }, win(2, 3, 30)];
    expect(series(s, 'cpu.used.percent')[0].map((p) => p.mean)).toEqual([10, 30]);
    expect(series(s, 'mem.used.bytes')).toEqual([]);
  });

  it('orders metrics cpu, memory, disk, network, apps', () => {
    const s: MetricSummary[] = [
      { from: '', at: '', metrics: Object.fromEntries(['app.web.ready', 'net.eth0.rx.bytes', 'disk./.used.percent', 'mem.used.bytes', 'cpu.used.percent'].map((n) => [n, { min: 0, max: 0, mean: 0, last: 0, count: 1 }])) },
    ];
    expect(chartedMetrics(s)).toEqual(['cpu.used.percent', 'mem.used.bytes', 'disk./.used.percent', 'net.eth0.rx.bytes', 'app.web.ready']);
  });

  it('rounds axes up to 1, 2 or 5 times a power of ten, percentages to 100', () => {
    expect(axisMax('cpu.used.percent', 12)).toBe(100);
    expect(axisMax('mem.used.bytes', 730)).toBe(1000);
    expect(axisMax('mem.used.bytes', 130)).toBe(200);
    expect(axisMax('x', 0)).toBe(1);
    expect(axisMax('mem.used.bytes', 1.5 * 1024 ** 3)).toBe(2 * 1024 ** 3);
    expect(axisMax('mem.used.bytes', 300 * 1024 ** 2)).toBe(500 * 1024 ** 2);
  });
});
