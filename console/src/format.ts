// Formatting of numbers, sizes and times for tables and sentences.
import type { DeviceTrust } from './types';

const nf = new Intl.NumberFormat('en');

export function count(n: number | undefined | null): string {
  return n === undefined || n === null ? '–' : nf.format(n);
}

export function bytes(n: number | undefined | null): string {
  if (n === undefined || n === null || !isFinite(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = Math.abs(n);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  const s = i === 0 ? String(Math.round(v)) : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  return `${n < 0 ? '-' : ''}${s} ${units[i]}`;
}

/** A duration in its largest one or two units: 45s, 3m 5s, 2h 10m, 3d 4h. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m}m ${s % 60}s` : `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d ${h % 24}h` : `${d}d`;
}

/** "3m ago", "in 2h", or "–" for no time. */
export function ago(iso: string | undefined | null, now: number = Date.now()): string {
  if (!iso) return '–';
  const t = Date.parse(iso);
  if (isNaN(t)) return '–';
  const d = now - t;
  // a time a little ahead is this browser's clock running behind the controller's
  if (d < 1000 && d > -60000) return 'just now';
  return d >= 0 ? `${duration(d)} ago` : `in ${duration(-d)}`;
}

/** A full local date and time for tooltips and detail views. */
export function dateTime(iso: string | undefined | null): string {
  if (!iso) return '–';
  const d = new Date(iso);
  return isNaN(d.getTime()) ? iso : d.toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'medium' });
}

/** The value of a metric for its axis and tooltip: percent, bytes or a plain number. */
export function metricValue(name: string, v: number): string {
  if (name.endsWith('percent')) return `${v.toFixed(v >= 10 ? 0 : 1)} %`;
  if (name.endsWith('bytes')) return bytes(v);
  if (Math.abs(v) >= 1000) return nf.format(Math.round(v));
  return String(Math.round(v * 100) / 100);
}

export function shortSha(sha: string | undefined | null): string {
  return sha ? sha.slice(0, 12) : '–';
}

/**
 * An event's message without its kind when it starts with it (the kind is shown beside it), and
 * an audit entry's JSON detail written as `key: value` pairs.
 */
export function eventText(kind: string, message: string): string {
  let text = message.startsWith(kind + ' ') ? message.slice(kind.length + 1) : message;
  const brace = text.indexOf(' {');
  if (brace >= 0 && text.endsWith('}')) {
    try {
      const detail = JSON.parse(text.slice(brace + 1)) as Record<string, unknown>;
      const pairs = Object.entries(detail)
        .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(', ');
      text = text.slice(0, brace) + (pairs ? ` (${pairs})` : '');
    } catch {
      // not JSON: shown as it came
    }
  }
  return text;
}

/**
 * How a device's trust is shown: TRUSTED green, QUARANTINED red with its reason as the tooltip,
 * a software key (UNVERIFIED) or no trust at all (an older controller) muted as "software".
 */
export function trustBadge(trust: DeviceTrust | undefined | null): { label: string; cls: string; title: string } {
  if (trust?.state === 'TRUSTED') return { label: 'TRUSTED', cls: 'badge s-trusted', title: 'Its last TPM quote matched its reference' };
  if (trust?.state === 'QUARANTINED') return { label: 'QUARANTINED', cls: 'badge s-quarantined', title: trust.reason || 'Quarantined' };
  return { label: 'software', cls: 'badge s-software', title: 'A software key: nothing to attest' };
}

/** A PCR value shortened for a table cell: the first and last 8 hex digits. */
export function shortHex(hex: string | undefined | null): string {
  if (!hex) return '–';
  return hex.length > 20 ? `${hex.slice(0, 8)}…${hex.slice(-8)}` : hex;
}
