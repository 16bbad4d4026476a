import { describe, expect, it } from 'vitest';
import { NdjsonParser } from './logs';

describe('NdjsonParser', () => {
  it('yields whole records across chunks and skips keep-alive blank lines', () => {
    const p = new NdjsonParser();
    expect(p.push('{"line":"a","pod":"p"}\n\n{"li')).toEqual([{ line: 'a', pod: 'p' }]);
    expect(p.push('ne":"b"}\n')).toEqual([{ line: 'b' }]);
    expect(p.push('\n{"note":"from the ring"}\n{"error":"device disconnected"}\n')).toEqual([{ note: 'from the ring' }, { error: 'device disconnected' }]);
  });

  it('keeps an unfinished record until its line ends', () => {
    const p = new NdjsonParser();
    expect(p.push('{"line":"x"}')).toEqual([]);
    expect(p.push('\n')).toEqual([{ line: 'x' }]);
  });
});
