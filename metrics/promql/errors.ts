// PromQL's errors as Prometheus' API reports them: an errorType and the
// HTTP status that goes with it (canceled is 499 here; the API answers 503).
export type PromErrorType = 'bad_data' | 'execution' | 'timeout' | 'canceled';

const STATUS: Record<PromErrorType, number> = { bad_data: 400, execution: 422, timeout: 503, canceled: 499 };

export class PromQLError extends Error {
  readonly errorType: PromErrorType;
  readonly status: number;
  constructor(errorType: PromErrorType, message: string) {
    super(message);
    this.name = 'PromQLError';
    this.errorType = errorType;
    this.status = STATUS[errorType];
  }
}
