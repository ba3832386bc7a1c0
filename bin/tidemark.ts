// The `tidemark` command: one entry point, a subcommand per job. Only the
// subcommand being run is loaded (bin/commands.ts); the others stand in the
// listing as their name, usage and description.
import { Command, CommanderError, Help } from 'commander';
import { InputError } from '../core/errors.ts';
import { COMMANDS, requestedCommand } from './commands.ts';

const program = new Command('tidemark')
  .description('Tidemark: monitoring, autoscaling and SLA engine for managed Kubernetes clouds')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride()
  .configureHelp({
    subcommandTerm: (cmd) => COMMANDS.find((c) => c.name === cmd.name())?.term ?? new Help().subcommandTerm(cmd),
  });

/** commander's exitOverride does not pass down to commands added with addCommand(): set it on each, so bad options exit 2. */
function overrideExits(command: Command): Command {
  command.exitOverride();
  for (const sub of command.commands) overrideExits(sub);
  return command;
}

try {
  const wanted = requestedCommand(process.argv.slice(2));
  for (const entry of COMMANDS) {
    program.addCommand(entry === wanted ? overrideExits(await entry.load()) : new Command(entry.name).description(entry.description));
  }
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
