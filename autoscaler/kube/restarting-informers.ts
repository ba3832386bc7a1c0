// A set of client-node informers that restart themselves: an informer stops
// on any error but 410 Gone, so each is started again after a pause until
// the set is stopped.
export interface RestartOptions {
  restartDelayMs?: number;
  onError?: (err: unknown) => void;
}

/** What this needs of a client-node Informer, whatever its object type. */
export interface RestartableInformer {
  on(verb: 'error', cb: (err: unknown) => void): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export class RestartingInformers {
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly informers: readonly RestartableInformer[],
    private readonly options: RestartOptions = {},
  ) {
    for (const informer of informers) {
      informer.on('error', (err) => {
        this.options.onError?.(err);
        if (this.stopped) return;
        const t = setTimeout(() => {
          this.timers.delete(t);
          if (!this.stopped) informer.start().catch((e: unknown) => this.options.onError?.(e));
        }, this.options.restartDelayMs ?? 1000);
        this.timers.add(t);
      });
    }
  }

  /** Resolves once every informer has listed. */
  async start(): Promise<void> {
    this.stopped = false;
    await Promise.all(this.informers.map((i) => i.start()));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.all(this.informers.map((i) => i.stop()));
  }
}
