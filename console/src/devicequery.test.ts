import { describe, expect, it } from 'vitest';
import { deviceApiUrl, deviceQueryUrl, nextSort, parseDeviceQuery, rangeText } from './devicequery';

describe('device query', () => {
  it('round-trips filters, sort and page through the address', () => {
    const q = parseDeviceQuery(new URLSearchParams('selector=site%3Dberlin%2Cenv+in+(a%2Cb)&status=offline&sort=-lastSeen&page=3'));
    expect(q).toEqual({ selector: 'site=berlin,env in (a,b)', status: 'OFFLINE', sort: '-lastSeen', page: 2 });
    expect(parseDeviceQuery(new URLSearchParams(deviceQueryUrl(q).split('?')[1]))).toEqual(q);
    expect(deviceQueryUrl({ selector: '', status: '', sort: '', page: 0 })).toBe('/devices');
  });

  it('ignores an unknown sort and a page below one', () => {
    expect(parseDeviceQuery(new URLSearchParams('sort=color&page=-4'))).toEqual({ selector: '', status: '', sort: '', page: 0 });
  });

  it('asks the API for a page by offset with the total, or by cursor', () => {
    const q = { selector: 'a=b', status: 'ONLINE', sort: 'name', page: 2 };
    const byOffset = new URL(deviceApiUrl(q), 'https://x').searchParams;
    expect(byOffset.get('offset')).toBe('100');
    expect(byOffset.get('limit')).toBe('50');
    expect(byOffset.get('count')).toBe('true');
    expect(byOffset.get('selector')).toBe('a=b');
    const byCursor = new URL(deviceApiUrl(q, 'c1'), 'https://x').searchParams;
    expect(byCursor.get('after')).toBe('c1');
    expect(byCursor.has('offset')).toBe(false);
  });

  it('toggles a column between ascending and descending', () => {
    expect(nextSort('', 'name')).toBe('name');
    expect(nextSort('name', 'name')).toBe('-name');
    expect(nextSort('-name', 'name')).toBe('name');
    expect(nextSort('-name', 'status')).toBe('status');
  });

  it('describes the rows shown', () => {
    expect(rangeText(0, 50, 1234)).toBe('1–50 of 1,234');
    expect(rangeText(24, 34, 1234)).toBe('1,201–1,234 of 1,234');
    expect(rangeText(1, 50)).toBe('51–100');
    expect(rangeText(0, 0, 0)).toBe('0 of 0');
  });
});
