// Errors that carry the field or resource they concern, and their HTTP form:
// JSON with a stable `error` code and a human `message`.

export class InputError extends Error {
  readonly code: string;
  constructor(
    /** The field, path or resource that was wrong, e.g. `instances[0].outages[1].end`. */
    readonly field: string,
    message: string,
    code = 'invalid_input',
  ) {
    super(`${field}: ${message}`);
    this.name = 'InputError';
    this.code = code;
  }
}

export interface HttpErrorBody {
  error: string;
  message: string;
  field?: string;
}

/** Formats zod issues as "path: message" lines, the path in JS notation (a.b[0].c). */
export function describeIssuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out || '(root)';
}
