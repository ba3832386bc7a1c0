// The SLA report directory follows the store's data path unless set itself.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../bin/config.ts';

describe('sla.report.outputDir default', () => {
  it('is reports under the default data path', () => {
    expect(loadConfig({ env: {} }).sla.report.outputDir).toBe(join('./data', 'reports'));
  });

  it('follows --data, not the working directory', () => {
    const config = loadConfig({ env: {}, overrides: [{ path: ['store', 'dataPath'], value: '/var/lib/tidemark' }] });
    expect(config.sla.report.outputDir).toBe('/var/lib/tidemark/reports');
  });

  it('follows TIDEMARK_DATA and a config file store.dataPath', () => {
    expect(loadConfig({ env: { TIDEMARK_DATA: '/srv/tm' } }).sla.report.outputDir).toBe('/srv/tm/reports');
    const dir = mkdtempSync(join(tmpdir(), 'tm-config-'));
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ store: { dataPath: '/data/x' } }));
    expect(loadConfig({ env: {}, file }).sla.report.outputDir).toBe('/data/x/reports');
  });

  it('keeps an explicit outputDir', () => {
    const config = loadConfig({
      env: {},
      overrides: [
        { path: ['store', 'dataPath'], value: '/var/lib/tidemark' },
        { path: ['sla', 'report', 'outputDir'], value: '/reports' },
      ],
    });
    expect(config.sla.report.outputDir).toBe('/reports');
  });

  it('leaves a data path of the wrong type for the schema to refuse, naming it', () => {
    expect(() => loadConfig({ env: {}, overrides: [{ path: ['store', 'dataPath'], value: 5 }] })).toThrow(/dataPath/);
  });
});
