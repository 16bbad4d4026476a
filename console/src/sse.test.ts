import { describe, expect, it } from 'vitest';
import { SseParser } from './sse';

describe('SseParser', () => {
  it('parses named events with ids across arbitrary chunk boundaries', () => {
    const text = 'event: hello\ndata: {"topics":[]}\n\n: ping\n\nid: 42\nevent: fleet-event\ndata: {"id":"42"}\n\n';
    for (let size = 1; size <= text.length; size++) {
      const p = new SseParser();
      const got = [];
      for (let i = 0; i < text.length; i += size) got.push(...p.push(text.slice(i, i + size)));
      expect(got).toEqual([
        { event: 'hello', data: '{"topics":[]}', id: undefined },
        { event: 'fleet-event', data: '{"id":"42"}', id: '42' },
      ]);
    }
  });

  it('handles CRLF line ends and multi-line data', () => {
    const p = new SseParser();
    expect(p.push('event: summary\r\ndata: a\r\ndata: b\r')).toEqual([]);
    expect(p.push('\n\r\n')).toEqual([{ event: 'summary', data: 'a\nb', id: undefined }]);
  });

  it('ignores comments and blank events without data', () => {
    const p = new SseParser();
    expect(p.push(': ping\n\nevent: x\n\n')).toEqual([]);
  });
});
