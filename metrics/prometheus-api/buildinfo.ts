// /api/v1/status/buildinfo: Prometheus' fields, so that Grafana and other
// clients that read them find what they expect; the version is Tidemark's,
// from package.json (found by walking up from this module, which works from
// the sources and from the compiled dist/ alike).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BuildInfo {
  version: string;
  revision: string;
  branch: string;
  buildUser: string;
  buildDate: string;
  goVersion: string;
}

let cached: BuildInfo | undefined;

function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'tidemark' && pkg.version) return pkg.version;
    } catch {
      // not here: one level up
    }
    dir = dirname(dir);
  }
  return '0.0.0';
}

export function buildInfo(): BuildInfo {
  cached ??= {
    version: packageVersion(),
    revision: 'tidemark',
    branch: 'tidemark',
    buildUser: 'tidemark',
    buildDate: '',
    // Not Go: the runtime that answers, in the field clients read it from.
    goVersion: `node${process.versions.node}`,
  };
  return cached;
}
