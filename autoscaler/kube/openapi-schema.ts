// The subset of OpenAPI v3 that CRD structural schemas use, enough to refuse
// what the API server would refuse: type, properties, required,
// additionalProperties, items, enum, minimum/maximum, minLength/maxLength,
// pattern, minItems/maxItems, anyOf, format date-time and the Kubernetes
// extensions int-or-string and preserve-unknown-fields. Unknown fields are
// errors, as with kubectl's default fieldValidation=Strict.

export interface OpenApiSchema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  format?: string;
  properties?: Record<string, OpenApiSchema>;
  required?: string[];
  additionalProperties?: OpenApiSchema | boolean;
  items?: OpenApiSchema;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  anyOf?: OpenApiSchema[];
  nullable?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

export interface SchemaIssue {
  /** JS-style path, e.g. `spec.metrics[0].resource.target.averageUtilization`. */
  field: string;
  message: string;
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** Every way `value` breaks `schema` (empty when it conforms). */
export function validateAgainstSchema(schema: OpenApiSchema, value: unknown, path = ''): SchemaIssue[] {
  const issues: SchemaIssue[] = [];
  check(schema, value, path, issues);
  return issues;
}

function check(s: OpenApiSchema, v: unknown, path: string, out: SchemaIssue[]): void {
  const at = path === '' ? '(root)' : path;
  if (v === null) {
    if (!s.nullable) out.push({ field: at, message: 'must not be null' });
    return;
  }
  if (s['x-kubernetes-int-or-string']) {
    if (typeof v === 'number') {
      if (!Number.isInteger(v)) out.push({ field: at, message: `must be an integer or a string, got ${v}` });
    } else if (typeof v === 'string') {
      if (s.pattern && !new RegExp(s.pattern).test(v)) out.push({ field: at, message: `"${v}" does not match ${s.pattern}` });
    } else out.push({ field: at, message: `must be an integer or a string, got ${typeName(v)}` });
    return;
  }
  if (s.anyOf && !s.anyOf.some((alt) => validateAgainstSchema(alt, v, path).length === 0)) {
    out.push({ field: at, message: 'matches none of the allowed forms' });
    return;
  }
  if (s.type) {
    const actual = typeName(v);
    const ok = s.type === actual || (s.type === 'number' && actual === 'integer');
    if (!ok) {
      out.push({ field: at, message: `must be of type ${s.type}, got ${actual}` });
      return;
    }
  }
  if (s.enum && !s.enum.some((e) => e === v)) out.push({ field: at, message: `must be one of ${s.enum.map((e) => JSON.stringify(e)).join(', ')}, got ${JSON.stringify(v)}` });
  if (typeof v === 'number') {
    if (s.minimum !== undefined && v < s.minimum) out.push({ field: at, message: `must be at least ${s.minimum}, got ${v}` });
    if (s.maximum !== undefined && v > s.maximum) out.push({ field: at, message: `must be at most ${s.maximum}, got ${v}` });
  }
  if (typeof v === 'string') {
    if (s.minLength !== undefined && v.length < s.minLength) out.push({ field: at, message: `must be at least ${s.minLength} characters` });
    if (s.maxLength !== undefined && v.length > s.maxLength) out.push({ field: at, message: `must be at most ${s.maxLength} characters` });
    if (s.pattern && !new RegExp(s.pattern).test(v)) out.push({ field: at, message: `"${v}" does not match ${s.pattern}` });
    if (s.format === 'date-time' && Number.isNaN(Date.parse(v))) out.push({ field: at, message: `"${v}" is not an RFC 3339 time` });
  }
  if (Array.isArray(v)) {
    if (s.minItems !== undefined && v.length < s.minItems) out.push({ field: at, message: `must have at least ${s.minItems} items` });
    if (s.maxItems !== undefined && v.length > s.maxItems) out.push({ field: at, message: `must have at most ${s.maxItems} items` });
    if (s.items) v.forEach((item, i) => check(s.items!, item, join(path, i), out));
  }
  if (typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    for (const r of s.required ?? []) if (o[r] === undefined) out.push({ field: join(path, r), message: 'required' });
    for (const [k, child] of Object.entries(o)) {
      if (child === undefined) continue;
      const prop = s.properties?.[k];
      if (prop) check(prop, child, join(path, k), out);
      else if (typeof s.additionalProperties === 'object') check(s.additionalProperties, child, join(path, k), out);
      else if (s.properties && !s['x-kubernetes-preserve-unknown-fields'] && s.additionalProperties !== true) {
        out.push({ field: join(path, k), message: 'unknown field' });
      }
    }
  }
}
