// A hand-made SVG line chart: the mean per window as a line over the min–max band.
import { axisMax, Point } from './chart';
import { metricValue } from './format';

const W = 320;
const H = 120;
const PAD = { l: 58, r: 8, t: 8, b: 18 };

function clock(t: number): string {
  return new Date(t).toLocaleString('en-GB', { weekday: 'short', hour: '2-digit', minute: '2-digit' });
}

export function LineChart({ metric, segments, from, to, last }: { metric: string; segments: Point[][]; from: number; to: number; last?: number }) {
  const all = segments.flat();
  const max = axisMax(metric, Math.max(0, ...all.map((p) => p.max)));
  const x = (t: number) => PAD.l + ((t - from) / Math.max(1, to - from)) * (W - PAD.l - PAD.r);
  const y = (v: number) => PAD.t + (1 - Math.min(1, Math.max(0, v / max))) * (H - PAD.t - PAD.b);
  const label = `${metric}: ${last !== undefined ? `now ${metricValue(metric, last)}, ` : ''}axis 0 to ${metricValue(metric, max)}`;
  return (
    <figure class="chart">
      <h3>
        {metric} {last !== undefined ? <span class="muted">· {metricValue(metric, last)}</span> : null}
      </h3>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label}>
        <line class="axis" x1={PAD.l} y1={y(0)} x2={W - PAD.r} y2={y(0)} />
        <line class="axis" x1={PAD.l} y1={y(max)} x2={W - PAD.r} y2={y(max)} />
        <text x={PAD.l - 4} y={y(max) + 4} text-anchor="end">
          {metricValue(metric, max)}
        </text>
        <text x={PAD.l - 4} y={y(0)} text-anchor="end">
          0
        </text>
        <text x={PAD.l} y={H - 4}>
          {clock(from)}
        </text>
        <text x={W - PAD.r} y={H - 4} text-anchor="end">
          now
        </text>
        {segments.map((seg, i) => (
          <g key={i}>
            {seg.length > 1 ? (
              <path
                class="band"
                d={`M${seg.map((p) => `${x(p.t).toFixed(1)},${y(p.max).toFixed(1)}`).join('L')}L${[...seg]
                  .reverse()
                  .map((p) => `${x(p.t).toFixed(1)},${y(p.min).toFixed(1)}`)
                  .join('L')}Z`}
              />
            ) : null}
            <path class="line" d={`M${seg.map((p) => `${x(p.t).toFixed(1)},${y(p.mean).toFixed(1)}`).join('L')}`} />
            {seg.length === 1 ? <circle cx={x(seg[0].t)} cy={y(seg[0].mean)} r="2" class="line" /> : null}
          </g>
        ))}
        {!all.length ? (
          <text x={W / 2} y={H / 2} text-anchor="middle">
            no data in this period
          </text>
        ) : null}
      </svg>
    </figure>
  );
}
