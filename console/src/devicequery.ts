// The devices page's filters, sort and page, kept in the address (?selector=&status=&sort=&page=).

export const PAGE_SIZE = 50;
export const SORT_KEYS = ['name', 'status', 'lastSeen', 'enrolledAt'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export interface DeviceQuery {
  selector: string;
  status: string;
  sort: string; // '' (the controller's default order), 'name', '-name', ...
  page: number; // 0-based
}

export function parseDeviceQuery(q: URLSearchParams): DeviceQuery {
  const sort = q.get('sort') ?? '';
  const page = Number.parseInt(q.get('page') ?? '1', 10);
  return {
    selector: q.get('selector') ?? '',
    status: (q.get('status') ?? '').toUpperCase(),
    sort: SORT_KEYS.includes(sort.replace(/^-/, '') as SortKey) ? sort : '',
    page: Number.isFinite(page) && page > 1 ? page - 1 : 0,
  };
}

/** The page's own address for a query (the page is 1-based there). */
export function deviceQueryUrl(q: DeviceQuery): string {
  const s = new URLSearchParams();
  if (q.selector) s.set('selector', q.selector);
  if (q.status) s.set('status', q.status);
  if (q.sort) s.set('sort', q.sort);
  if (q.page > 0) s.set('page', String(q.page + 1));
  const str = s.toString();
  return str ? `/devices?${str}` : '/devices';
}

/** The API call for a query: server-side paging by offset, with the total count. */
export function deviceApiUrl(q: DeviceQuery, after?: string): string {
  const s = new URLSearchParams();
  if (q.selector) s.set('selector', q.selector);
  if (q.status) s.set('status', q.status);
  if (q.sort) s.set('sort', q.sort);
  s.set('limit', String(PAGE_SIZE));
  if (after) s.set('after', after);
  else if (q.page > 0) s.set('offset', String(q.page * PAGE_SIZE));
  s.set('count', 'true');
  return `/api/v1/devices?${s}`;
}

/** Clicking a column: ascending first, then descending, for the same column. */
export function nextSort(current: string, key: SortKey): string {
  return current === key ? `-${key}` : key;
}

/** "51–100 of 1,234" */
export function rangeText(page: number, shown: number, total?: number): string {
  if (shown === 0) return total === undefined ? 'No devices' : `0 of ${total.toLocaleString('en')}`;
  const from = page * PAGE_SIZE + 1;
  const to = page * PAGE_SIZE + shown;
  return total === undefined ? `${from}–${to}` : `${from.toLocaleString('en')}–${to.toLocaleString('en')} of ${total.toLocaleString('en')}`;
}
