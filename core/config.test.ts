import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../bin/config.ts';

describe('loadConfig', () => {
  it('gives defaults, then the file, then the environment, then flags', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tidemark-config-'));
    const file = join(dir, 'tidemark.yaml');
    writeFileSync(file, 'server: { port: 9000 }\nstore: { dataPath: /var/lib/tm }\n');
    const c = loadConfig({ file, env: { TIDEMARK_PORT: '9100', TIDEMARK_KAFKA_BROKERS: 'a:1, b:2' }, overrides: [{ path: ['store', 'dataPath'], value: '/x' }] });
    expect(c.server.port).toBe(9100);
    expect(c.store.dataPath).toBe('/x');
    expect(c.kafka.brokers).toEqual(['a:1', 'b:2']);
    expect(c.tenant).toBe('default');
    expect(c.bus.kind).toBe('memory');
  });

  it('names the field or variable that is wrong', () => {
    expect(() => loadConfig({ env: { TIDEMARK_PORT: 'eighty' } })).toThrow(/^TIDEMARK_PORT:/);
    expect(() => loadConfig({ env: { TIDEMARK_BUS: 'rabbit' } })).toThrow(/^bus\.kind:/);
    const dir = mkdtempSync(join(tmpdir(), 'tidemark-config-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'collector:\n  scrape:\n    - { job: node, url: "http://127.0.0.1:9100/metrics", interval: soon }\n');
    expect(() => loadConfig({ file, env: {} })).toThrow(/^collector\.scrape\[0\]\.interval:/);
    expect(() => loadConfig({ file: join(dir, 'missing.yaml'), env: {} })).toThrow(/^config: cannot read/);
  });
});
