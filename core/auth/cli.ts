// `tidemark tokens create|list|revoke`: manages API tokens through a running
// engine's /api/v1/tokens, authenticated with --token / TIDEMARK_TOKEN.
import { Command, Option } from 'commander';
import { ROLES } from './roles.ts';

interface Connection {
  url: string;
  token?: string;
  scope?: string;
  json?: boolean;
}

interface Out {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

const defaultOut: Out = { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) };

function withConnection(cmd: Command): Command {
  return cmd
    .option('--url <url>', 'engine address', process.env['TIDEMARK_URL'] ?? 'http://127.0.0.1:8080')
    .option('--token <token>', 'bearer token (default: TIDEMARK_TOKEN)', process.env['TIDEMARK_TOKEN'])
    .option('--scope <tenant>', 'act on this tenant (X-Scope-OrgID)')
    .option('--json', 'print the JSON answer');
}

/** Calls the engine; prints the error and sets the exit code on failure, returning null. */
async function call(c: Connection, method: string, path: string, out: Out, body?: unknown): Promise<Record<string, unknown> | null> {
  const headers: Record<string, string> = {};
  if (c.token) headers['authorization'] = `Bearer ${c.token}`;
  if (c.scope) headers['x-scope-orgid'] = c.scope;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(`${c.url.replace(/\/$/, '')}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    out.stderr(`tidemark tokens: cannot reach ${c.url}: ${String((e as Error).cause ?? (e as Error).message)}\n`);
    process.exitCode = 1;
    return null;
  }
  const answer = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) {
    out.stderr(`tidemark tokens: ${res.status} ${String(answer['error'] ?? '')}: ${String(answer['message'] ?? res.statusText)}\n`);
    process.exitCode = res.status >= 500 ? 1 : 2;
    return null;
  }
  return answer;
}

interface TokenView {
  id: string;
  name: string;
  role: string;
  tenants: string[];
  state: string;
  expiresAt: string;
  creator: string;
}

export function tokensCommand(out: Out = defaultOut): Command {
  const tokens = new Command('tokens').description('Create, list and revoke API tokens on a running engine');

  tokens.addCommand(
    withConnection(new Command('create'))
      .description('Mint a token; its secret is printed once')
      .addOption(new Option('--role <role>', 'role').choices([...ROLES]).makeOptionMandatory())
      .option('--tenant <tenant>', 'a tenant it may use; repeatable (default: the caller\'s tenant)', (v: string, acc: string[]) => [...acc, v], [])
      .option('--expires <when>', 'a duration such as 30d, or an RFC 3339 time', '90d')
      .option('--name <name>', 'what the token is for')
      .action(async (opts: Connection & { role: string; tenant: string[]; expires: string; name?: string }) => {
        const body = { role: opts.role, expires: opts.expires, ...(opts.tenant.length ? { tenants: opts.tenant } : {}), ...(opts.name ? { name: opts.name } : {}) };
        const answer = await call(opts, 'POST', '/api/v1/tokens', out, body);
        if (!answer) return;
        if (opts.json) out.stdout(`${JSON.stringify(answer)}\n`);
        else {
          out.stdout(`${String(answer['token'])}\n`);
          out.stderr(`token ${String(answer['id'])} (${String(answer['role'])}, expires ${String(answer['expiresAt'])}): the secret above is shown this once\n`);
        }
      }),
  );

  tokens.addCommand(
    withConnection(new Command('list'))
      .description('List tokens (never their secrets)')
      .option('--all', 'every tenant\'s tokens (cloud-admin)')
      .action(async (opts: Connection & { all?: boolean }) => {
        const answer = await call(opts, 'GET', `/api/v1/tokens${opts.all ? '?all=true' : ''}`, out);
        if (!answer) return;
        if (opts.json) return out.stdout(`${JSON.stringify(answer)}\n`);
        const list = answer['tokens'] as TokenView[];
        if (list.length === 0) return out.stdout('(no tokens)\n');
        for (const t of list) {
          out.stdout(`${t.id}\t${t.role}\t${t.tenants.join(',') || '*'}\t${t.state}\texpires ${t.expiresAt}\tby ${t.creator}${t.name ? `\t${t.name}` : ''}\n`);
        }
      }),
  );

  tokens.addCommand(
    withConnection(new Command('revoke'))
      .description('Revoke a token at once')
      .argument('<id>', 'token id (from list)')
      .action(async (id: string, opts: Connection) => {
        const answer = await call(opts, 'DELETE', `/api/v1/tokens/${encodeURIComponent(id)}`, out);
        if (!answer) return;
        out.stdout(opts.json ? `${JSON.stringify(answer)}\n` : `revoked ${id}\n`);
      }),
  );
  return tokens;
}
