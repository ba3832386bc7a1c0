// A real Alertmanager (Debian's prometheus-alertmanager, 0.25) on a free
// loopback port, its configuration and data in a temporary directory, and
// a webhook receiver that keeps every post, for the alerting tests.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, requireBinary, startPeer, type Peer } from './peers.ts';

export async function startAlertmanager(configYaml: string): Promise<Peer> {
  const binary = requireBinary('prometheus-alertmanager', 'prometheus-alertmanager', 'alertmanager');
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-alertmanager-'));
  writeFileSync(join(dir, 'alertmanager.yml'), configYaml);
  const peer = await startPeer({
    name: 'alertmanager',
    binary,
    args: (port) => [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--web.external-url=http://127.0.0.1:${port}`,
      // No gossip: one instance, and no cluster port to collide with other tests.
      '--cluster.listen-address=',
    ],
    readyPath: '/-/ready',
    timeoutMs: 30_000,
  });
  return {
    ...peer,
    async stop() {
      await peer.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface WebhookPost {
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: Record<string, unknown>;
  readonly at: number;
}

export interface WebhookReceiver {
  readonly url: string;
  readonly posts: WebhookPost[];
  close(): Promise<void>;
}

/** An HTTP server on a free loopback port answering 200 to every POST and keeping its JSON body. */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const posts: WebhookPost[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        posts.push({ path: req.url ?? '', headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>, at: Date.now() });
      } catch {
        // not JSON: not ours to keep
      }
      res.writeHead(200).end();
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${port}`,
    posts,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
