// The autoscaler's rooms hold: the pure deciders (nodes/, pods/, the label
// selector, quantities, the policy-to-decider mapping) do no I/O and know
// nothing of the loop; kube/ adapters never import the loop they serve; and
// no product module imports the test kit. Read from the import statements of
// every non-test module under autoscaler/.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = dirname(fileURLToPath(import.meta.url));
const repo = resolve(root, '..');

function modules(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return modules(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [path] : [];
  });
}

/** Each module's imports: package names as written, relative ones resolved to repository paths. */
const imports = new Map(
  modules(root).map((file) => {
    const specs = [...readFileSync(file, 'utf8').matchAll(/^(?:import|export)[^;]*?from\s+'([^']+)'/gms)].map((m) => m[1]!);
    return [relative(repo, file), specs.map((s) => (s.startsWith('.') ? relative(repo, resolve(dirname(file), s)) : s))] as const;
  }),
);

const pure = (m: string) =>
  (m.startsWith('autoscaler/nodes/') && m !== 'autoscaler/nodes/cli.ts') ||
  m.startsWith('autoscaler/pods/') ||
  ['autoscaler/label-selector.ts', 'autoscaler/quantity.ts', 'autoscaler/loop/policy-input.ts'].includes(m);

describe('the autoscaler rooms', () => {
  it('reads every module', () => {
    expect(imports.size).toBeGreaterThan(40);
    expect(imports.get('autoscaler/loop/node-round.ts')).toContain('autoscaler/nodes/plan.ts');
  });

  it('keeps the deciders pure: no I/O, no loop, no adapters', () => {
    const offending: string[] = [];
    for (const [m, specs] of imports) {
      if (!pure(m)) continue;
      for (const s of specs) {
        const io = s.startsWith('node:') || s.startsWith('@kubernetes/');
        const above = s.startsWith('autoscaler/') && !pure(s) && !s.startsWith('autoscaler/kube/') && s !== 'autoscaler/ports.ts';
        const adapter = s.startsWith('autoscaler/kube/') && !m.startsWith('autoscaler/loop/');
        if (io || above || adapter) offending.push(`${m} -> ${s}`);
      }
    }
    expect(offending).toEqual([]);
  });

  it('keeps kube/ below the loop', () => {
    const offending: string[] = [];
    for (const [m, specs] of imports) {
      if (!m.startsWith('autoscaler/kube/')) continue;
      for (const s of specs) {
        if (['autoscaler/controller.ts', 'autoscaler/ports.ts', 'autoscaler/in-cluster.ts'].includes(s) || s.startsWith('autoscaler/loop/') || s.startsWith('autoscaler/actuation/')) offending.push(`${m} -> ${s}`);
      }
    }
    expect(offending).toEqual([]);
  });

  it('never imports the test kit from product code', () => {
    const offending = [...imports].flatMap(([m, specs]) => specs.filter((s) => s.startsWith('test/')).map((s) => `${m} -> ${s}`));
    expect(offending).toEqual([]);
  });
});
