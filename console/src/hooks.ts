// Loading data for a page: the answer, its error, and a reload that keeps the old data visible.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, get } from './api';

export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  reload: () => void;
  setData: (update: (old: T | undefined) => T | undefined) => void;
}

/** GETs `path` (null: nothing yet) and again whenever it changes or reload() is called. */
export function useGet<T>(path: string | null): Loaded<T> {
  const [data, setDataState] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [loading, setLoading] = useState(path !== null);
  const [tick, setTick] = useState(0);
  const last = useRef<string | null>(null);
  useEffect(() => {
    if (path === null) return;
    if (last.current !== path) setDataState(undefined);
    last.current = path;
    const ctl = new AbortController();
    setLoading(true);
    get<T>(path, ctl.signal)
      .then((d) => {
        setDataState(d);
        setError(undefined);
      })
      .catch((e) => {
        if ((e as Error).name !== 'AbortError') setError(e instanceof ApiError ? e : new ApiError(0, 'ERROR', String(e)));
      })
      .finally(() => {
        if (!ctl.signal.aborted) setLoading(false);
      });
    return () => ctl.abort();
  }, [path, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  const setData = useCallback((u: (old: T | undefined) => T | undefined) => setDataState(u), []);
  return { data, error, loading, reload, setData };
}

/** Re-renders every `ms` so relative times ("3m ago") stay true. */
export function useNow(ms = 10000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

/** Wraps `f` so that it runs at most once per `ms` (a late call runs at the end of the wait). */
export function useThrottle(f: () => void, ms: number): () => void {
  const ref = useRef(f);
  ref.current = f;
  const state = useRef<{ last: number; timer?: number }>({ last: 0 });
  useEffect(() => () => clearTimeout(state.current.timer), []);
  return useCallback(() => {
    const s = state.current;
    if (s.timer !== undefined) return;
    const wait = s.last + ms - Date.now();
    if (wait <= 0) {
      s.last = Date.now();
      ref.current();
    } else {
      s.timer = window.setTimeout(() => {
        s.timer = undefined;
        s.last = Date.now();
        ref.current();
      }, wait);
    }
  }, [ms]);
}
