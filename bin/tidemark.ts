// The `tidemark` command: one entry point, a subcommand per job.
import { Command, CommanderError } from 'commander';
import { InputError } from '../core/errors.ts';
import { upCommand } from './up.ts';
import { queryCommand } from './query.ts';
import { statusCommand } from './status.ts';
import { billingCommand, slaCommand } from '../sla/cli.ts';
import { autoscaleCommand } from '../autoscaler/cli.ts';
import { nodesCommand } from '../autoscaler/nodes/cli.ts';
import { tokensCommand } from '../core/auth/cli.ts';

const program = new Command('tidemark')
  .description('Tidemark: monitoring, autoscaling and SLA engine for managed Kubernetes clouds')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();

program.addCommand(upCommand());
program.addCommand(queryCommand());
program.addCommand(statusCommand());
program.addCommand(slaCommand());
program.addCommand(billingCommand());
program.addCommand(autoscaleCommand());
program.addCommand(nodesCommand());
program.addCommand(tokensCommand());

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exit(err.exitCode === 0 ? 0 : 2);
  }
  if (err instanceof InputError) {
    process.stderr.write(`tidemark: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`tidemark: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}
