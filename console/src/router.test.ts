import { describe, expect, it } from 'vitest';
import { match, safeNext, withQuery } from './router';

describe('router', () => {
  it('matches console routes and decodes their parameters', () => {
    expect(match('/devices/:id', '/devices/dev-3f2a')).toEqual({ id: 'dev-3f2a' });
    expect(match('/devices/:id', '/devices/RCC7%2D4XJB')).toEqual({ id: 'RCC7-4XJB' });
    expect(match('/devices/:id', '/devices')).toBeNull();
    expect(match('/devices/:id', '/devices/a/b')).toBeNull();
    expect(match('/', '/')).toEqual({});
    expect(match('/rollouts', '/rollouts/')).toEqual({});
  });

  it('returns after sign-in only to a path of the console', () => {
    expect(safeNext('/devices?status=OFFLINE')).toBe('/devices?status=OFFLINE');
    expect(safeNext('//evil.example/')).toBe('/');
    expect(safeNext('/\\evil.example/')).toBe('/');
    expect(safeNext('https://evil.example/')).toBe('/');
    expect(safeNext(null)).toBe('/');
  });

  it('leaves empty parameters and the first page out of addresses', () => {
    expect(withQuery('/', { by: '' })).toBe('/');
    expect(withQuery('/alerts', { state: 'firing', page: 0 })).toBe('/alerts?state=firing');
  });
});
