#!/usr/bin/env node
// Launcher: runs the compiled command (dist/, built by `npm run build`, which
// npm's `prepare` runs at `npm install`). When there is no build, or a
// source it was built from has changed since (a developer's edit, a test
// run on a working copy), it runs the TypeScript sources through tsx
// instead, so the command never runs code older than its sources.
import { readFileSync, statSync } from 'node:fs';

const root = new URL('../', import.meta.url);

function buildIsCurrent() {
  let build;
  try {
    build = JSON.parse(readFileSync(new URL('dist/build.json', root), 'utf8'));
  } catch {
    return false;
  }
  for (const source of build.sources) {
    const stat = statSync(new URL(source, root), { throwIfNoEntry: false });
    if (!stat || stat.mtimeMs >= build.builtAt) return false;
  }
  return true;
}

if (buildIsCurrent()) {
  process.setSourceMapsEnabled(true); // stack traces name the .ts lines (no measurable start-up cost)
  await import('../dist/bin/tidemark.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('./tidemark.ts');
}
