// The listing `tidemark --help` shows without loading the commands must be
// what the commands themselves declare.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { Help } from 'commander';
import { COMMANDS, requestedCommand } from './commands.ts';

describe('the tidemark command listing', () => {
  it('names, usage and descriptions match the real commands', async () => {
    const help = new Help();
    for (const entry of COMMANDS) {
      const cmd = await entry.load();
      expect({ name: cmd.name(), term: help.subcommandTerm(cmd), description: cmd.description() }).toEqual({
        name: entry.name,
        term: entry.term,
        description: entry.description,
      });
    }
    expect(new Set(COMMANDS.map((c) => c.name)).size).toBe(COMMANDS.length);
  });

  it('finds the command a command line runs or asks help for', () => {
    expect(requestedCommand(['query', 'up', '--url', 'x'])?.name).toBe('query');
    expect(requestedCommand(['--help'])).toBeUndefined();
    expect(requestedCommand([])).toBeUndefined();
    expect(requestedCommand(['help', 'sla'])?.name).toBe('sla');
    expect(requestedCommand(['-h', 'nodes', 'plan'])?.name).toBe('nodes');
    expect(requestedCommand(['bogus'])).toBeUndefined();
  });
});

describe('bad options on any subcommand', () => {
  it.each([
    ['status', '--bogus'],
    ['sla', 'compute', '--nope'],
    ['nodes', 'plan', '--nope'],
    ['autoscale', 'recommend', '--nope'],
  ])('%s … exits 2, naming the option', (...args) => {
    const r = spawnSync(process.execPath, [new URL('./tidemark.js', import.meta.url).pathname, ...args], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(args[args.length - 1]!);
  });
});
