// `tidemark autoscale …`: thin I/O around the pure recommender. Only
// `recommend` lives here so far; `explain` will join it as another subcommand.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { InputError } from '../core/errors.ts';
import { parseRecommendInput, recommend } from './pods/recommend.ts';

export interface CommandOutput {
  stdout: string;
  stderr: string;
  code: number;
}

/** JSON in, JSON out; bad input gives exit code 2, a message naming the field, and nothing on stdout. */
export function runRecommend(text: string): CommandOutput {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { stdout: '', stderr: `(root): input is not JSON: ${(err as Error).message}\n`, code: 2 };
  }
  try {
    const recommendation = recommend(parseRecommendInput(raw));
    return { stdout: `${JSON.stringify(recommendation, null, 2)}\n`, stderr: '', code: 0 };
  } catch (err) {
    if (err instanceof InputError) return { stdout: '', stderr: `${err.message}\n`, code: 2 };
    throw err;
  }
}

function readAll(file: string | undefined): string {
  return readFileSync(file ?? 0, 'utf8');
}

export function autoscaleCommand(): Command {
  const autoscale = new Command('autoscale').description('pod autoscaling: HPA-compatible recommendations');
  autoscale
    .command('recommend')
    .description('recommend a replica count for an autoscaling/v2 HPA, its pods and their metrics (JSON on stdin or --input)')
    .option('--input <file>', 'read the input JSON from FILE instead of stdin')
    .action((opts: { input?: string }) => {
      let text: string;
      try {
        text = readAll(opts.input);
      } catch (err) {
        process.stderr.write(`--input: ${(err as Error).message}\n`);
        process.exitCode = 2;
        return;
      }
      const out = runRecommend(text);
      if (out.stdout) process.stdout.write(out.stdout);
      if (out.stderr) process.stderr.write(out.stderr);
      process.exitCode = out.code;
    });
  return autoscale;
}
