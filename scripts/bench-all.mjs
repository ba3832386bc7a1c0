#!/usr/bin/env node
// `npm run bench`: runs every bench:* script of package.json one after the
// other (never in parallel: the machine is small and shared) and repeats
// each one's last line, its JSON figure line, at the end.
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const names = Object.keys(pkg.scripts).filter((n) => n.startsWith('bench:')).sort();
const only = process.argv.slice(2);
const lines = [];
let failed = 0;
for (const name of names) {
  if (only.length > 0 && !only.some((o) => name === o || name === `bench:${o}`)) continue;
  console.error(`\n== ${name}`);
  const r = spawnSync('npm', ['run', '--silent', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  process.stdout.write(r.stdout);
  const last = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0) {
    failed++;
    lines.push(JSON.stringify({ bench: name.slice('bench:'.length), error: `exit ${r.status}` }));
  } else lines.push(last);
}
console.log('\n== figures');
for (const l of lines) console.log(l);
process.exit(failed > 0 ? 1 : 0);
