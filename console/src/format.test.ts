import { describe, expect, it } from 'vitest';
import { ago, bytes, duration, eventText, metricValue, shortHex, trustBadge } from './format';

describe('format', () => {
  it('writes durations in their two largest units', () => {
    expect(duration(0)).toBe('0s');
    expect(duration(59_999)).toBe('59s');
    expect(duration(185_000)).toBe('3m 5s');
    expect(duration(2 * 3600_000 + 10 * 60_000)).toBe('2h 10m');
    expect(duration(3 * 86400_000 + 4 * 3600_000 + 59_000)).toBe('3d 4h');
    expect(duration(-5)).toBe('0s');
  });

  it('writes relative times both ways and nothing for a missing or broken time', () => {
    const now = Date.parse('2026-01-01T12:00:00Z');
    expect(ago('2026-01-01T11:57:00Z', now)).toBe('3m ago');
    expect(ago('2026-01-01T14:00:00Z', now)).toBe('in 2h');
    expect(ago('2026-01-01T12:00:20Z', now)).toBe('just now');
    expect(ago(undefined, now)).toBe('–');
    expect(ago('not a time', now)).toBe('–');
  });

  it('writes sizes in binary units', () => {
    expect(bytes(512)).toBe('512 B');
    expect(bytes(1536)).toBe('1.50 KiB');
    expect(bytes(8 * 1024 ** 3)).toBe('8.00 GiB');
    expect(bytes(undefined)).toBe('–');
  });

  it('writes metric values by their unit', () => {
    expect(metricValue('cpu.used.percent', 42.26)).toBe('42 %');
    expect(metricValue('disk./.used.percent', 3.14)).toBe('3.1 %');
    expect(metricValue('mem.used.bytes', 2 * 1024 ** 2)).toBe('2.00 MiB');
    expect(metricValue('app.web.ready', 1)).toBe('1');
  });

  it('drops a kind the message repeats and writes an audit detail as pairs', () => {
    expect(eventText('alert.rule.create', 'alert.rule.create device-gone by admin {"type":"device-offline","receivers":[]}')).toBe(
      'device-gone by admin (type: device-offline, receivers: [])',
    );
    expect(eventText('OFFLINE', 'ONLINE → OFFLINE: connection closed')).toBe('ONLINE → OFFLINE: connection closed');
    expect(eventText('x', 'x note {not json}')).toBe('note {not json}');
  });

  it('shows trust as a badge: trusted green, quarantined red with its reason, anything else muted as software', () => {
    expect(trustBadge({ identity: 'tpm', state: 'TRUSTED' })).toEqual({ label: 'TRUSTED', cls: 'badge s-trusted', title: 'Its last TPM quote matched its reference' });
    const q = trustBadge({ identity: 'tpm', state: 'QUARANTINED', reason: 'PCR 4 differs' });
    expect(q.label).toBe('QUARANTINED');
    expect(q.cls).toBe('badge s-quarantined');
    expect(q.title).toBe('PCR 4 differs');
    expect(trustBadge({ identity: 'tpm', state: 'QUARANTINED' }).title).toBe('Quarantined');
    expect(trustBadge({ identity: 'software', state: 'UNVERIFIED' })).toMatchObject({ label: 'software', cls: 'badge s-software' });
    expect(trustBadge(undefined).label).toBe('software');
    expect(trustBadge(null).cls).toBe('badge s-software');
  });

  it('shortens long hex values to their ends and leaves short ones', () => {
    expect(shortHex('a'.repeat(8) + '0'.repeat(48) + 'b'.repeat(8))).toBe('aaaaaaaa…bbbbbbbb');
    expect(shortHex('abcd')).toBe('abcd');
    expect(shortHex(undefined)).toBe('–');
    expect(shortHex('')).toBe('–');
  });
});
