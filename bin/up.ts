// `tidemark up`: runs the engine until SIGINT/SIGTERM, then drains and stops.
import { Command, Option } from 'commander';
import { loadConfig } from './config.ts';
import { createLogger } from '../core/log.ts';
import { startEngine } from './engine.ts';

interface UpOptions {
  port?: string;
  host?: string;
  data?: string;
  config?: string;
  role?: string;
  bus?: string;
  kafkaBrokers?: string;
}

export function upCommand(): Command {
  return new Command('up')
    .description('Run the engine: sources, bus, ingester and API (embedded ClickHouse unless CLICKHOUSE_URL is set)')
    .option('--port <port>', 'HTTP port (default 8080)')
    .option('--host <host>', 'HTTP listen address (default 127.0.0.1, loopback only; also TIDEMARK_HOST; 0.0.0.0 serves every interface)')
    .option('--data <dir>', 'embedded store data directory (default ./data)')
    .option('--config <file>', 'YAML or JSON configuration file (also TIDEMARK_CONFIG)')
    .addOption(new Option('--role <role>', 'which parts this process runs').choices(['all', 'collector', 'ingester', 'api']))
    .addOption(new Option('--bus <kind>', 'bus between sources and ingesters').choices(['memory', 'kafka']))
    .option('--kafka-brokers <list>', 'Kafka bootstrap brokers, host:port,…')
    .action(async (opts: UpOptions) => {
      const overrides: { path: string[]; value: unknown }[] = [];
      if (opts.port !== undefined) overrides.push({ path: ['server', 'port'], value: Number(opts.port) });
      if (opts.host !== undefined) overrides.push({ path: ['server', 'host'], value: opts.host });
      if (opts.data !== undefined) overrides.push({ path: ['store', 'dataPath'], value: opts.data });
      if (opts.role !== undefined) overrides.push({ path: ['role'], value: opts.role });
      if (opts.bus !== undefined) overrides.push({ path: ['bus', 'kind'], value: opts.bus });
      if (opts.kafkaBrokers !== undefined) overrides.push({ path: ['kafka', 'brokers'], value: opts.kafkaBrokers.split(',').map((s) => s.trim()) });
      const config = loadConfig({ file: opts.config, overrides });
      const log = createLogger();
      const engine = await startEngine(config, log);
      process.stderr.write(`tidemark is up at ${engine.url} (role ${config.role}, ${config.bus.kind} bus)\n`);
      let stopping = false;
      const stop = async (signal: string): Promise<void> => {
        if (stopping) return;
        stopping = true;
        // Stops accepting, lets requests in flight finish, drains the bus into the store
        // (everything acknowledged is stored), closes the store; exit 0 only then.
        log.info({ signal }, 'stopping: draining what was accepted');
        try {
          await engine.close();
        } catch (e) {
          log.error({ err: (e as Error).message }, 'shutdown failed');
          process.exit(1);
        }
        log.info('stopped');
        process.exit(0);
      };
      process.on('SIGINT', () => void stop('SIGINT'));
      process.on('SIGTERM', () => void stop('SIGTERM'));
    });
}
