// Series identity: a label set maps to one stable 64-bit id, whatever the
// order its labels arrived in. Also the label-name rules every source applies.
import { createHash } from 'node:crypto';
import type { Labels } from './samples.ts';

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

export function isValidLabelName(name: string): boolean {
  return LABEL_NAME.test(name);
}

export function isValidMetricName(name: string): boolean {
  return METRIC_NAME.test(name);
}

/** Labels sorted by name, the canonical form hashed into the series id. */
export function canonicalLabels(labels: Labels): [string, string][] {
  return Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

export function seriesId(labels: Labels): bigint {
  const hash = createHash('sha256');
  for (const [name, value] of canonicalLabels(labels)) {
    hash.update(name);
    hash.update('\u0000');
    hash.update(value);
    hash.update('\u0001');
  }
  return hash.digest().readBigUInt64LE(0);
}

/** Why a label set cannot be stored, or null when it can. Names the offending label. */
export function labelSetProblem(labels: Labels): string | null {
  const name = labels['__name__'];
  if (name === undefined || name === '') return 'series has no __name__ label';
  if (!isValidMetricName(name)) return `invalid metric name "${name}"`;
  for (const key of Object.keys(labels)) {
    if (key !== '__name__' && !isValidLabelName(key)) return `invalid label name "${key}"`;
  }
  return null;
}
