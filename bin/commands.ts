// The subcommands of `tidemark`: what `tidemark --help` lists for each
// (usage and description) and how to load it. A command's module, and all
// it imports, loads only when that command runs or shows its own help:
// loading every domain at each start made every invocation take seconds.
// bin/commands.test.ts checks this listing against the real commands.
import type { Command } from 'commander';

export interface CommandEntry {
  readonly name: string;
  /** The command's line in the listing, as commander writes it: name, `[options]`, arguments. */
  readonly term: string;
  readonly description: string;
  readonly load: () => Promise<Command>;
}

export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'up',
    term: 'up [options]',
    description: 'Run the engine: sources, bus, ingester and API (embedded ClickHouse unless CLICKHOUSE_URL is set)',
    load: async () => (await import('./up.ts')).upCommand(),
  },
  {
    name: 'query',
    term: 'query [options] <expr>',
    description: 'Ask a running engine: a PromQL expression (instant, or a range with --since/--step), or a metric over a time range',
    load: async () => (await import('./query.ts')).queryCommand(),
  },
  {
    name: 'status',
    term: 'status [options]',
    description: "Print a running engine's bus, lag and ingest rate",
    load: async () => (await import('./status.ts')).statusCommand(),
  },
  {
    name: 'sla',
    term: 'sla',
    description: 'SLA calculator, monthly reports and exclusions',
    load: async () => (await import('../sla/cli.ts')).slaCommand(),
  },
  {
    name: 'billing',
    term: 'billing',
    description: 'billing input for SLA compensation',
    load: async () => (await import('../sla/cli.ts')).billingCommand(),
  },
  {
    name: 'autoscale',
    term: 'autoscale',
    description: 'pod autoscaling: HPA-compatible recommendations and explanations of the decisions made',
    load: async () => (await import('../autoscaler/cli.ts')).autoscaleCommand(),
  },
  {
    name: 'nodes',
    term: 'nodes',
    description: 'node autoscaler: plan node-group scale-up and scale-down',
    load: async () => (await import('../autoscaler/nodes/cli.ts')).nodesCommand(),
  },
  {
    name: 'tokens',
    term: 'tokens',
    description: 'Create, list and revoke API tokens on a running engine',
    load: async () => (await import('../core/auth/cli.ts')).tokensCommand(),
  },
  {
    name: 'rules',
    term: 'rules',
    description: 'Check rule files and run their unit tests (promtool formats)',
    load: async () => (await import('../alerting/cli.ts')).rulesCommand(),
  },
  {
    name: 'silence',
    term: 'silence',
    description: 'Add, list and expire silences on a running engine',
    load: async () => (await import('../alerting/cli.ts')).silenceCommand(),
  },
  {
    name: 'alerts',
    term: 'alerts',
    description: 'Search the alert history (state changes and notifications)',
    load: async () => (await import('../alerting/cli.ts')).alertsCommand(),
  },
  {
    name: 'logs',
    term: 'logs',
    description: 'Push log lines to a running engine and search its logs',
    load: async () => (await import('../logs/cli.ts')).logsCommand(),
  },
];

/**
 * The command that `argv` (without node and the script) runs or asks help
 * for: its first operand, or the one after `help`. The program's own options
 * (-V, -h) take no value, so the first word not starting with `-` is it.
 */
export function requestedCommand(argv: readonly string[]): CommandEntry | undefined {
  const operands = argv.filter((a) => !a.startsWith('-'));
  const name = operands[0] === 'help' ? operands[1] : operands[0];
  return COMMANDS.find((c) => c.name === name);
}
