// The Prometheus HTTP API's answers: the success envelope and the error
// envelope with Prometheus' errorType values and status codes. An error body
// also carries our own `message` and `field` (the project's promise for
// every 4xx), which Prometheus clients ignore.
export type ApiErrorType = 'bad_data' | 'execution' | 'timeout' | 'canceled' | 'not_found' | 'method_not_allowed' | 'internal' | 'unavailable';

/** An answer other than success, as Prometheus gives it. */
export class PromApiError extends Error {
  constructor(
    readonly status: number,
    readonly errorType: ApiErrorType,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'PromApiError';
  }
}

/** `invalid parameter "x": why`, Prometheus' wording for a bad parameter. */
export function badParam(field: string, why: string): PromApiError {
  return new PromApiError(400, 'bad_data', `invalid parameter "${field}": ${why}`, field);
}

export interface SuccessBody<T> {
  status: 'success';
  data: T;
  warnings?: string[];
}

export interface ErrorBody {
  status: 'error';
  errorType: string;
  error: string;
  message: string;
  field?: string;
}

export function success<T>(data: T, warnings?: readonly string[]): SuccessBody<T> {
  return warnings && warnings.length > 0 ? { status: 'success', data, warnings: [...warnings] } : { status: 'success', data };
}

export function errorBody(errorType: string, error: string, field?: string): ErrorBody {
  return { status: 'error', errorType, error, message: error, ...(field ? { field } : {}) };
}
