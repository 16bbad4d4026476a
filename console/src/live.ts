// The live stream (GET /api/v1/stream): one connection for the whole console, dispatched to the
// pages that listen. A controller without the stream (404) or one refusing more streams is
// followed by polling: listeners then get a `poll` tick every 5 s instead.
import { useEffect, useRef, useState } from 'preact/hooks';
import { authHeaders, signedOut } from './api';
import { SseParser } from './sse';

export type LiveMode = 'connecting' | 'live' | 'polling' | 'off';
type Handler = (data: any) => void;
export interface LiveHandlers {
  summary?: Handler;
  device?: Handler;
  rollout?: Handler;
  'fleet-event'?: Handler;
  /** Called every 5 s while polling, and once after the stream (re)connects. */
  poll?: () => void;
}

const POLL_MS = 5000;
const listeners = new Set<{ current: LiveHandlers }>();
const modeListeners = new Set<(m: LiveMode) => void>();
let mode: LiveMode = 'off';
let abort: AbortController | null = null;
let pollTimer: number | undefined;
let retryTimer: number | undefined;
let failures = 0;

function setMode(m: LiveMode) {
  mode = m;
  modeListeners.forEach((l) => l(m));
  clearInterval(pollTimer);
  pollTimer = undefined;
  if (m === 'polling') pollTimer = window.setInterval(() => dispatchPoll(), POLL_MS);
}

function dispatch(event: string, data: any) {
  listeners.forEach((l) => {
    const h = (l.current as Record<string, Handler | undefined>)[event];
    if (h) h(data);
  });
}

function dispatchPoll() {
  listeners.forEach((l) => l.current.poll?.());
}

function retry(after: number) {
  clearTimeout(retryTimer);
  retryTimer = window.setTimeout(connect, after);
}

async function connect() {
  abort?.abort();
  const controller = new AbortController();
  abort = controller;
  if (mode !== 'polling') setMode('connecting');
  let res: Response;
  try {
    res = await fetch('/api/v1/stream', { headers: authHeaders({ Accept: 'text/event-stream' }), signal: controller.signal });
  } catch {
    if (controller.signal.aborted) return;
    failures++;
    setMode('polling');
    retry(Math.min(30000, 1000 * 2 ** failures));
    return;
  }
  if (res.status === 401) {
    stopLive();
    signedOut('The controller refused the token. Sign in again with the admin token.');
    return;
  }
  if (!res.ok || !res.body) {
    // 404: a controller without the stream; 429: too many streams. Poll, and try again later.
    setMode('polling');
    retry(res.status === 404 ? 60000 : 15000);
    return;
  }
  failures = 0;
  setMode('live');
  dispatchPoll(); // catch up on what changed while not connected
  const parser = new SseParser();
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      for (const msg of parser.push(value)) {
        let data: unknown;
        try {
          data = JSON.parse(msg.data);
        } catch {
          continue;
        }
        dispatch(msg.event, data);
      }
    }
  } catch {
    // the connection broke
  }
  if (controller.signal.aborted) return;
  setMode('polling');
  retry(Math.min(30000, 1000 * 2 ** ++failures));
}

export function startLive(): void {
  if (mode === 'off') connect();
}

export function stopLive(): void {
  abort?.abort();
  abort = null;
  clearTimeout(retryTimer);
  setMode('off');
}

/** Listens to live messages while the component is mounted; handlers may change every render. */
export function useLive(handlers: LiveHandlers): void {
  const ref = useRef(handlers);
  ref.current = handlers;
  useEffect(() => {
    listeners.add(ref);
    return () => {
      listeners.delete(ref);
    };
  }, []);
}

export function useLiveMode(): LiveMode {
  const [m, setM] = useState(mode);
  useEffect(() => {
    modeListeners.add(setM);
    setM(mode);
    return () => {
      modeListeners.delete(setM);
    };
  }, []);
  return m;
}
