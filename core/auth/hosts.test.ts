import { describe, expect, it } from 'vitest';
import { defaultAllowedHosts, hostAllowed, isLoopbackHost, originAllowed } from './hosts.ts';

describe('isLoopbackHost', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['localhost', true],
    ['::1', true],
    ['[::1]', true],
    ['0.0.0.0', false],
    ['::', false],
    ['10.0.0.5', false],
    ['tidemark.example.com', false],
  ])('%s → %s', (host, loop) => expect(isLoopbackHost(host)).toBe(loop));
});

describe('hostAllowed', () => {
  const allowed = defaultAllowedHosts('127.0.0.1', 8080);
  it.each([
    ['127.0.0.1:8080', true],
    ['localhost:3000', true],
    ['LOCALHOST', true],
    ['[::1]:8080', true],
    ['evil.example.com:8080', false],
    ['evil.example.com', false],
    ['127.0.0.1.evil.com:8080', false],
  ])('%s → %s', (host, ok) => expect(hostAllowed(host, allowed)).toBe(ok));

  it('holds the bound address with its port only', () => {
    const hosts = defaultAllowedHosts('10.1.2.3', 9000);
    expect(hostAllowed('10.1.2.3:9000', hosts)).toBe(true);
    expect(hostAllowed('10.1.2.3:9001', hosts)).toBe(false);
    expect(hostAllowed('[fe80::1]:9000', ['[fe80::1]:9000'])).toBe(true);
  });

  it('lists every interface when bound to all of them', () => {
    const hosts = defaultAllowedHosts('0.0.0.0', 9000);
    expect(hosts).toContain('127.0.0.1:9000');
    expect(hostAllowed('tidemark.example.com:9000', hosts)).toBe(false);
  });
});

describe('originAllowed', () => {
  const hosts = defaultAllowedHosts('127.0.0.1', 8080);
  it.each([
    ['http://127.0.0.1:8080', [], true],
    ['http://localhost:5173', [], true],
    ['https://grafana.example.com', ['https://grafana.example.com'], true],
    ['https://grafana.example.com:443', ['https://grafana.example.com'], true],
    ['https://evil.example.com', ['https://grafana.example.com'], false],
    ['null', [], false],
    ['file://', [], false],
    ['not a url', [], false],
  ])('%s with %o → %s', (origin, listed, ok) => expect(originAllowed(origin, listed, hosts)).toBe(ok));
});
