#!/usr/bin/env node
// The layers hold: core → metrics → domains → bin. Reads every TypeScript
// file's relative imports (static and dynamic) and fails, naming file and
// import, when a layer reaches above itself or sideways into another
// domain, or when product code imports the test kit or a benchmark.
// A script of our own rather than dependency-cruiser: that tool reads
// TypeScript through the compiler's JavaScript API, which TypeScript 7
// (the native compiler this project builds with) does not ship, and the
// rule set here is four lines.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DOMAINS = ['collector', 'autoscaler', 'sla', 'alerting', 'logs', 'dashboards'];
/** Which top-level folders each folder may import (itself always). */
const ALLOWED = {
  core: [],
  metrics: ['core'],
  ...Object.fromEntries(DOMAINS.map((d) => [d, ['core', 'metrics']])),
  // The launcher runs the compiled copy of bin/ itself (dist/ is build output of these sources).
  bin: ['core', 'metrics', ...DOMAINS, 'dist'],
  scripts: [],
};
const SKIP = new Set(['node_modules', 'dist', 'data', '.git', '.cache', '.tidemark']);

function* files(dir) {
  for (const name of readdirSync(dir)) {
    if (SKIP.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* files(path);
    else if (/\.(ts|mts|js|mjs)$/.test(name) && !name.endsWith('.d.ts')) yield path;
  }
}

const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g;
const top = (path) => relative(root, path).split(sep)[0];
const problems = [];
let checked = 0;

for (const file of files(root)) {
  const layer = top(file);
  const rel = relative(root, file);
  // Tests and benchmarks may reach anything; a unit test beside its code counts as a test.
  const isTestOrBench = layer === 'test' || layer === 'bench' || /\.test\.ts$/.test(file);
  if (!isTestOrBench && !(layer in ALLOWED)) continue;
  checked++;
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(IMPORT)) {
    const target = resolve(dirname(file), m[1]);
    const to = top(target);
    if (isTestOrBench) {
      // Even a unit test beside domain code stays in its own domain's world: other domains are reached through test/.
      if (layer !== 'test' && layer !== 'bench' && DOMAINS.includes(layer) && DOMAINS.includes(to) && to !== layer) {
        problems.push(`${rel}: imports ${m[1]} (a test in ${layer}/ reaching into ${to}/)`);
      }
      continue;
    }
    if (to === layer) continue;
    if (to === 'test' || to === 'bench') problems.push(`${rel}: imports ${m[1]} (product code never imports ${to}/)`);
    else if (!ALLOWED[layer].includes(to)) problems.push(`${rel}: imports ${m[1]} (${layer}/ may import ${ALLOWED[layer].join(', ') || 'nothing outside itself'})`);
  }
}

if (problems.length > 0) {
  console.error(`layers: ${problems.length} import(s) break the layering core → metrics → domains → bin:`);
  for (const p of problems) console.error(`  ${p}`);
  process.exit(1);
}
console.log(`layers: ${checked} files, no import crosses a layer`);
