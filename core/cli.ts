// What a `tidemark` subcommand hands back before any I/O: its output, its
// error text and its exit code, so that commands are tested as functions.
// Exit codes: 0 done, 1 failed, 2 bad input (the message names the field and
// nothing is printed on stdout, so a pipeline never consumes half an answer).
import { InputError } from './errors.ts';

export interface CliResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** JSON text in, a pure function's answer out as indented JSON; bad input exits 2 naming the field. */
export function runJsonCommand(text: string, answer: (raw: unknown) => unknown, format: (value: unknown) => string = (v) => `${JSON.stringify(v, null, 2)}\n`): CliResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { stdout: '', stderr: `(root): input is not JSON: ${(e as Error).message}\n`, code: 2 };
  }
  try {
    return { stdout: format(answer(raw)), stderr: '', code: 0 };
  } catch (e) {
    if (e instanceof InputError) return { stdout: '', stderr: `${e.message}\n`, code: 2 };
    throw e;
  }
}

/** The header a client command sends to a running engine: `TIDEMARK_TOKEN` as a bearer token, when set (an engine with auth on needs one). */
export function engineAuthHeaders(token = process.env['TIDEMARK_TOKEN']): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}
