// Calls to the controller's REST API under /api/v1 with the signed-in token.
import { clearToken, token } from './auth';
import { navigate } from './router';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let signInMessage = '';

/** Why the sign-in page was shown (a refused token), read once. */
export function takeSignInMessage(): string {
  const m = signInMessage;
  signInMessage = '';
  return m;
}

/** The token was refused: back to sign-in with a message, remembering where the user was. */
export function signedOut(message: string): void {
  clearToken();
  signInMessage = message;
  const back = location.pathname + location.search;
  navigate(back.startsWith('/signin') ? '/signin' : `/signin?next=${encodeURIComponent(back)}`, { replace: true });
}

export function authHeaders(extra: Record<string, string> = {}): Record<string, string> {
  const t = token();
  return t ? { ...extra, Authorization: `Bearer ${t}` } : extra;
}

async function errorOf(res: Response): Promise<ApiError> {
  let code = `HTTP_${res.status}`;
  let message = `${res.status} ${res.statusText}`.trim();
  try {
    const body = await res.json();
    if (body && typeof body.code === 'string') code = body.code;
    if (body && typeof body.message === 'string') message = body.message;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(res.status, code, message);
}

/** Fetches with the token; a 401 signs out. Answers the raw response (for streams). */
export async function request(path: string, init: RequestInit = {}): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(path, { ...init, headers: authHeaders(init.headers as Record<string, string>) });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(0, 'NETWORK', 'The controller cannot be reached. Check that it runs and that this browser can reach it.');
  }
  if (res.status === 401) {
    signedOut('The controller refused the token. Sign in again with the admin token.');
    throw await errorOf(res);
  }
  if (!res.ok) throw await errorOf(res);
  return res;
}

export async function get<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await request(path, { signal });
  return (await res.json()) as T;
}

export async function send<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await request(path, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export function q(params: Record<string, string | number | boolean | undefined | null>): string {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') s.set(k, String(v));
  const str = s.toString();
  return str ? `?${str}` : '';
}

export const enc = encodeURIComponent;
