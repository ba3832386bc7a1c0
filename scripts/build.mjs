#!/usr/bin/env node
// Compiles the product into dist/ once (npm's `prepare` runs this at
// `npm install`), so the `tidemark` command starts as compiled JavaScript
// instead of compiling TypeScript at every start. It also records what it
// compiled and when (dist/build.json): bin/tidemark.js runs the sources
// through tsx instead when one of them has changed since.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const tsc = join(root, 'node_modules', '.bin', 'tsc');

if (!existsSync(tsc)) {
  // An install without devDependencies: the command still runs, through tsx.
  console.log('build: typescript is not installed; `tidemark` will run the sources through tsx');
  process.exit(0);
}

const startedAt = Date.now(); // a source saved during the build counts as newer than it
rmSync(dist, { recursive: true, force: true });
const r = spawnSync(tsc, ['-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (r.status !== 0) {
  rmSync(dist, { recursive: true, force: true }); // no half-built dist for the launcher to trust
  console.error(`build: tsc failed (${r.status ?? r.signal})`);
  process.exit(1);
}

// Modules that read files beside them (the CRD schemas, via
// new URL('../../deploy/…', import.meta.url)) find them through this link.
symlinkSync(join('..', 'deploy'), join(dist, 'deploy'));

function compiled(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory() && !e.isSymbolicLink()) out.push(...compiled(p));
    else if (e.isFile() && e.name.endsWith('.js')) out.push(relative(dist, p).replace(/\.js$/, '.ts'));
  }
  return out;
}
// Every change to what the command runs edits one of these files (a new or
// removed module edits the module that imports it), so their times are
// enough to tell a stale build.
const sources = compiled(dist).sort();
writeFileSync(join(dist, 'build.json'), JSON.stringify({ builtAt: startedAt, sources }, null, 1) + '\n');
console.log(`build: ${sources.length} modules into dist/ in ${Date.now() - startedAt} ms`);
