// Follows an app's logs on a device: GET /api/v1/devices/{id}/logs?follow=true answers NDJSON,
// one record per line (a log line, a note, or last an error); empty lines keep the stream alive.
import { request } from './api';

export interface LogRecord {
  at?: string;
  pod?: string;
  container?: string;
  line?: string;
  note?: string;
  error?: string;
}

/** Splits NDJSON read in chunks into records; blank lines and broken JSON are skipped. */
export class NdjsonParser {
  private buffer = '';
  push(chunk: string): LogRecord[] {
    this.buffer += chunk;
    const lines = this.buffer.split('\n');
    this.buffer = lines.pop() ?? '';
    const out: LogRecord[] = [];
    for (const l of lines) {
      const t = l.trim();
      if (!t) continue;
      try {
        out.push(JSON.parse(t));
      } catch {
        // not a record
      }
    }
    return out;
  }
}

export async function followLogs(deviceId: string, app: string, tail: number, signal: AbortSignal, onRecords: (r: LogRecord[]) => void): Promise<void> {
  const res = await request(`/api/v1/devices/${encodeURIComponent(deviceId)}/logs?app=${encodeURIComponent(app)}&tail=${tail}&follow=true`, {
    signal,
    headers: { Accept: 'application/x-ndjson' },
  });
  if (!res.body) return;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new NdjsonParser();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    const records = parser.push(value);
    if (records.length) onRecords(records);
  }
}
