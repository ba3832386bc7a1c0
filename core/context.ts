// What a running engine hands to every module it starts: the configuration,
// the store, the bus, the logger and the self-metrics registry.
import type { Registry } from 'prom-client';
import type { Config } from './config.ts';
import type { Store } from './store.ts';
import type { Bus } from './bus.ts';
import type { Logger } from './log.ts';

export interface AppContext {
  readonly config: Config;
  readonly store: Store;
  readonly bus: Bus;
  readonly log: Logger;
  readonly registry: Registry;
  /** Work to run when the engine stops (timers, consumers, child clients). */
  onClose(fn: () => Promise<void> | void): void;
}
